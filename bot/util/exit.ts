// pcibot's exit statuses, all in one place. The first three are the CLI's
// contract (README: 0 no error findings, 1 error findings, 2 bad usage or
// unreadable input); the others are sysexits.h numbers for the cases a
// supervisor (systemd, a container runtime) should tell apart.

/** Done; no error-severity findings. */
export const EXIT_OK = 0;
/** Error-severity findings were reported (or, for verify, a layout did not match). */
export const EXIT_FINDINGS = 1;
/** Bad usage or unreadable input. */
export const EXIT_USAGE = 2;
/** EX_UNAVAILABLE: a service pcibot needs (Redis) is not there. */
export const EXIT_UNAVAILABLE = 69;
/** EX_SOFTWARE: pcibot's own bug (an exception a command did not handle). */
export const EXIT_INTERNAL = 70;
/** EX_CONFIG: the service configuration is invalid. */
export const EXIT_CONFIG = 78;
