/* The number of threads of this process, for the test programs that show natt's thread ending. */
#ifndef NATT_TEST_THREADS_H
#define NATT_TEST_THREADS_H

#include <dirent.h>

static inline int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

#endif
