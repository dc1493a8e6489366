/*
 * pcibot vfio-probe: runs inside the verify guest (compiled by pcibot at run time,
 * freestanding: no libc, raw system calls, x86_64 and aarch64).
 *
 *   vfio-probe <iommu group> <bdf> [<iommu group> <bdf> ...]
 *
 * Opens each device (bound to vfio-pci) through VFIO the way a VMM does
 * (container, group, device fd), prints what vfio-pci offers for each BAR and the
 * ROM, then /proc/iomem while the devices are still open: opening is what makes
 * vfio-pci reserve the rest of a sub-page BAR's page ("vfio sub-page reserved").
 *
 *   @@VFIO-REGION <bdf> <index> size=0x<size> flags=0x<flags>   (flags: 1 read, 2 write, 4 mmap)
 *   @@VFIO-ERROR <bdf> <step> errno=<n>
 *   @@VFIO-IOMEM-BEGIN / <lines of /proc/iomem> / @@VFIO-IOMEM-END
 */

typedef unsigned long u64;
typedef unsigned int u32;

#if defined(__x86_64__)
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_ioctl 16
#define NR_openat 257
#define NR_exit_group 231
static long sys3(long n, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}
__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call probe_main\n hlt\n");
#elif defined(__aarch64__)
#define NR_read 63
#define NR_write 64
#define NR_close 57
#define NR_ioctl 29
#define NR_openat 56
#define NR_exit_group 94
static long sys3(long n, long a, long b, long c)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	return x0;
}
__asm__(".globl _start\n_start:\n mov x0, sp\n bl probe_main\n b .\n");
#else
#error "vfio-probe: x86_64 or aarch64 only"
#endif

#define AT_FDCWD (-100)
#define O_RDWR 2

/* VFIO ioctls: _IO(';', 100 + n). */
#define VFIO_SET_IOMMU 0x3b66
#define VFIO_GROUP_GET_STATUS 0x3b67
#define VFIO_GROUP_SET_CONTAINER 0x3b68
#define VFIO_GROUP_GET_DEVICE_FD 0x3b6a
#define VFIO_DEVICE_GET_REGION_INFO 0x3b6c
#define VFIO_TYPE1v2_IOMMU 3
#define VFIO_NOIOMMU_IOMMU 8
#define VFIO_GROUP_FLAGS_VIABLE 1

struct group_status {
	u32 argsz;
	u32 flags;
};

struct region_info {
	u32 argsz;
	u32 flags;
	u32 index;
	u32 cap_offset;
	u64 size;
	u64 offset;
};

static char out[4096];
static int used;

static void flush(void)
{
	int done = 0;
	while (done < used) {
		long n = sys3(NR_write, 1, (long)(out + done), used - done);
		if (n <= 0)
			break;
		done += (int)n;
	}
	used = 0;
}

static void put(const char *s)
{
	while (*s) {
		if (used == sizeof(out))
			flush();
		out[used++] = *s++;
	}
}

static void put_hex(u64 v)
{
	char buf[19];
	int i = 18;
	buf[i] = 0;
	do {
		buf[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	put(buf + i);
}

static void put_dec(long v)
{
	char buf[24];
	int i = 23;
	int neg = v < 0;
	u64 u = neg ? (u64)(-v) : (u64)v;
	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (neg)
		buf[--i] = '-';
	put(buf + i);
}

static void error(const char *bdf, const char *step, long ret)
{
	put("@@VFIO-ERROR ");
	put(bdf);
	put(" ");
	put(step);
	put(" errno=");
	put_dec(-ret);
	put("\n");
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static long open_group(const char *group)
{
	char path[64];
	const char *prefixes[2] = { "/dev/vfio/", "/dev/vfio/noiommu-" };
	for (int p = 0; p < 2; p++) {
		int i = 0;
		for (const char *s = prefixes[p]; *s && i < 40; s++)
			path[i++] = *s;
		for (const char *s = group; *s && i < 62; s++)
			path[i++] = *s;
		path[i] = 0;
		long fd = sys3(NR_openat, AT_FDCWD, (long)path, O_RDWR);
		if (fd >= 0)
			return fd;
	}
	return -2;
}

void probe_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	long container = sys3(NR_openat, AT_FDCWD, (long)"/dev/vfio/vfio", O_RDWR);
	int iommu_set = 0;
	const char *groups[64];
	long group_fds[64];
	int ngroups = 0;

	for (long a = 1; a + 1 < argc; a += 2) {
		const char *group = argv[a];
		const char *bdf = argv[a + 1];
		long gfd = -1;
		if (container < 0) {
			error(bdf, "open-container", container);
			continue;
		}
		for (int g = 0; g < ngroups; g++)
			if (same(groups[g], group))
				gfd = group_fds[g];
		if (gfd < 0) {
			gfd = open_group(group);
			if (gfd < 0) {
				error(bdf, "open-group", gfd);
				continue;
			}
			struct group_status st = { sizeof(st), 0 };
			long r = sys3(NR_ioctl, gfd, VFIO_GROUP_GET_STATUS, (long)&st);
			if (r < 0 || !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
				error(bdf, "group-not-viable", r < 0 ? r : -22);
				continue;
			}
			r = sys3(NR_ioctl, gfd, VFIO_GROUP_SET_CONTAINER, (long)&container);
			if (r < 0) {
				error(bdf, "set-container", r);
				continue;
			}
			if (!iommu_set) {
				long r1 = sys3(NR_ioctl, container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
				r = r1 < 0 ? sys3(NR_ioctl, container, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU) : r1;
				if (r < 0) {
					/* Both answers: type1 (a real vIOMMU) and no-IOMMU mode. */
					error(bdf, "set-iommu-type1v2", r1);
					error(bdf, "set-iommu-noiommu", r);
					continue;
				}
				iommu_set = 1;
			}
			if (ngroups < 64) {
				groups[ngroups] = group;
				group_fds[ngroups++] = gfd;
			}
		}
		long dev = sys3(NR_ioctl, gfd, VFIO_GROUP_GET_DEVICE_FD, (long)bdf);
		if (dev < 0) {
			error(bdf, "get-device", dev);
			continue;
		}
		for (u32 index = 0; index <= 6; index++) {
			struct region_info info = { sizeof(info), 0, index, 0, 0, 0 };
			long r = sys3(NR_ioctl, dev, VFIO_DEVICE_GET_REGION_INFO, (long)&info);
			if (r < 0 || info.size == 0)
				continue;
			put("@@VFIO-REGION ");
			put(bdf);
			put(" ");
			put_dec(index);
			put(" size=");
			put_hex(info.size);
			put(" flags=");
			put_hex(info.flags);
			put("\n");
		}
		/* The device fd stays open until we exit: /proc/iomem below shows its reservations. */
	}
	put("@@VFIO-IOMEM-BEGIN\n");
	flush();
	long fd = sys3(NR_openat, AT_FDCWD, (long)"/proc/iomem", 0);
	if (fd >= 0) {
		for (;;) {
			long n = sys3(NR_read, fd, (long)out, sizeof(out));
			if (n <= 0)
				break;
			used = (int)n;
			flush();
		}
		sys3(NR_close, fd, 0, 0);
	}
	put("@@VFIO-IOMEM-END\n");
	flush();
	sys3(NR_exit_group, 0, 0, 0);
}
