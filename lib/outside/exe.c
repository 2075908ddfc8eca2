#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "outside/exe.h"

/* What the ELF headers say, in one width: 32-bit files are widened on reading. */
struct elf_view {
	int fd;
	bool wide;
	uint64_t phoff, shoff;
	unsigned phentsize, phnum, shentsize, shnum, shstrndx;
};

static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
	return pread(fd, buf, len, (off_t)off) == (ssize_t)len;
}

static bool open_elf(int fd, struct elf_view *v)
{
	unsigned char ident[EI_NIDENT];
	if (!read_at(fd, ident, sizeof(ident), 0) || memcmp(ident, ELFMAG, SELFMAG) != 0 ||
	    ident[EI_DATA] != ELFDATA2LSB)
		return false; /* big-endian files are not judged */
	v->fd = fd;
	v->wide = ident[EI_CLASS] == ELFCLASS64;
	if (v->wide) {
		Elf64_Ehdr h;
		if (!read_at(fd, &h, sizeof(h), 0))
			return false;
		*v = (struct elf_view){ fd, true, h.e_phoff, h.e_shoff, h.e_phentsize, h.e_phnum,
			                h.e_shentsize, h.e_shnum, h.e_shstrndx };
	} else if (ident[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr h;
		if (!read_at(fd, &h, sizeof(h), 0))
			return false;
		*v = (struct elf_view){ fd, false, h.e_phoff, h.e_shoff, h.e_phentsize, h.e_phnum,
			                h.e_shentsize, h.e_shnum, h.e_shstrndx };
	} else {
		return false;
	}
	return v->phentsize >= (v->wide ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr));
}

static bool program_header(const struct elf_view *v, unsigned i, Elf64_Phdr *ph)
{
	uint64_t off = v->phoff + (uint64_t)i * v->phentsize;
	if (v->wide)
		return read_at(v->fd, ph, sizeof(*ph), off);
	Elf32_Phdr p;
	if (!read_at(v->fd, &p, sizeof(p), off))
		return false;
	*ph = (Elf64_Phdr){ .p_type = p.p_type, .p_offset = p.p_offset, .p_filesz = p.p_filesz };
	return true;
}

static bool section_header(const struct elf_view *v, unsigned i, Elf64_Shdr *sh)
{
	uint64_t off = v->shoff + (uint64_t)i * v->shentsize;
	if (v->wide)
		return v->shentsize >= sizeof(*sh) && read_at(v->fd, sh, sizeof(*sh), off);
	Elf32_Shdr s;
	if (v->shentsize < sizeof(s) || !read_at(v->fd, &s, sizeof(s), off))
		return false;
	*sh = (Elf64_Shdr){ .sh_name = s.sh_name, .sh_type = s.sh_type, .sh_offset = s.sh_offset,
		            .sh_size = s.sh_size };
	return true;
}

/* A section named .go.buildinfo (Go 1.13+) or .note.go.buildid. */
static bool has_go_section(const struct elf_view *v)
{
	Elf64_Shdr strtab;
	if (v->shoff == 0 || v->shnum == 0 || v->shnum > 4096 || v->shstrndx >= v->shnum ||
	    !section_header(v, v->shstrndx, &strtab))
		return false;
	for (unsigned i = 0; i < v->shnum; i++) {
		Elf64_Shdr sh;
		char name[24] = { 0 };
		if (!section_header(v, i, &sh) || sh.sh_name >= strtab.sh_size)
			continue;
		size_t len = strtab.sh_size - sh.sh_name < sizeof(name) - 1 ? strtab.sh_size - sh.sh_name
		                                                             : sizeof(name) - 1;
		if (pread(v->fd, name, len, (off_t)(strtab.sh_offset + sh.sh_name)) <= 0)
			continue;
		if (strcmp(name, ".go.buildinfo") == 0 || strcmp(name, ".note.go.buildid") == 0)
			return true;
	}
	return false;
}

/* A PT_NOTE with owner "Go" and type 4 (Go's build id note), for files without section headers. */
static bool has_go_note(const struct elf_view *v, const Elf64_Phdr *ph)
{
	if (ph->p_filesz > 65536)
		return false;
	unsigned char *buf = malloc(ph->p_filesz + 1);
	if (!buf)
		return false;
	bool found = false;
	if (read_at(v->fd, buf, ph->p_filesz, ph->p_offset)) {
		for (uint64_t at = 0; !found && at + 12 <= ph->p_filesz;) {
			uint32_t namesz, descsz, type;
			memcpy(&namesz, buf + at, 4);
			memcpy(&descsz, buf + at + 4, 4);
			memcpy(&type, buf + at + 8, 4);
			uint64_t name_at = at + 12, desc_at = name_at + ((namesz + 3u) & ~3u);
			if (desc_at > ph->p_filesz)
				break;
			found = type == 4 && namesz == 3 && memcmp(buf + name_at, "Go", 3) == 0;
			at = desc_at + ((descsz + 3u) & ~3u);
		}
	}
	free(buf);
	return found;
}

enum natt_exe_kind natt_exe_classify(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return NATT_EXE_PRELOADABLE;
	if (st.st_mode & (S_ISUID | S_ISGID))
		return NATT_EXE_SETID;
	if (getxattr(path, "security.capability", NULL, 0) > 0)
		return NATT_EXE_CAPS;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NATT_EXE_PRELOADABLE;
	struct elf_view v;
	enum natt_exe_kind kind = NATT_EXE_PRELOADABLE;
	if (open_elf(fd, &v)) {
		bool interp = false, go_note = false;
		for (unsigned i = 0; i < v.phnum && i < 4096; i++) {
			Elf64_Phdr ph;
			if (!program_header(&v, i, &ph))
				break;
			if (ph.p_type == PT_INTERP)
				interp = true;
			else if (ph.p_type == PT_NOTE && !go_note)
				go_note = has_go_note(&v, &ph);
		}
		if (go_note || has_go_section(&v))
			kind = NATT_EXE_GO;
		else if (!interp)
			kind = NATT_EXE_STATIC;
	}
	close(fd);
	return kind;
}

const char *natt_exe_kind_text(enum natt_exe_kind kind)
{
	switch (kind) {
	case NATT_EXE_SETID: return "is setuid/setgid";
	case NATT_EXE_CAPS: return "has file capabilities";
	case NATT_EXE_STATIC: return "is statically linked";
	case NATT_EXE_GO: return "is a Go program";
	case NATT_EXE_PRELOADABLE: break;
	}
	return "";
}
