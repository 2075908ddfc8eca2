/* An empty preload library: the floor of process start-up under LD_PRELOAD. Loading any library costs
 * the loader an open, a few mmap()s and page faults; bench/spawn times this one beside natt's shim to
 * show which part of the shim's start-up cost is the loader's and which is natt's own. */
__attribute__((visibility("default"))) int natt_bench_empty_preload(void);

int natt_bench_empty_preload(void)
{
	return 0;
}
