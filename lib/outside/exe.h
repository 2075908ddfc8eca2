/* Whether LD_PRELOAD can reach a program, judged from its file before it runs. */
#ifndef NATT_OUTSIDE_EXE_H
#define NATT_OUTSIDE_EXE_H

enum natt_exe_kind {
	NATT_EXE_PRELOADABLE = 0, /* a dynamically linked C-library program, a script... */
	NATT_EXE_SETID,           /* setuid or setgid: the loader ignores LD_PRELOAD */
	NATT_EXE_CAPS,            /* file capabilities: likewise */
	NATT_EXE_STATIC,          /* no program interpreter: no loader runs at all */
	NATT_EXE_GO,              /* Go: makes its own system calls, whatever it links */
};

/* Classifies the file at path (a resolved path). Unreadable files and what is no ELF file count as
 * PRELOADABLE (a script's interpreter is what runs). Setuid/setgid and capabilities come first: they
 * also rule out what the watcher may do (no_new_privs). */
enum natt_exe_kind natt_exe_classify(const char *path);

/* Words for the kind: "is setuid/setgid", "has file capabilities", "is statically linked", "is a Go
 * program"; "" for PRELOADABLE. */
const char *natt_exe_kind_text(enum natt_exe_kind kind);

#endif
