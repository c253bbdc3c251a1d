#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "sync.h"
#include "util.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int husk_terminal_open(int at, const char *ptmx_path, const struct husk_process *p, int *master,
		       int *slave, struct husk_error *e)
{
	*master = *slave = -1;
	_cleanup_fd_ int m = openat(at, ptmx_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return husk_errno(e, "open %s", ptmx_path);
	int unlock = 0;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return husk_errno(e, "unlock pty");
	/* Through the master, not a path: the slave is surely this pty's,
	 * whatever /dev/pts holds. */
	_cleanup_fd_ int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return husk_errno(e, "open pty slave");
	/* The process's user owns its terminal; the group (tty, from the
	 * devpts gid= option) stays.  An unmapped uid keeps root's. */
	if (fchown(s, p->user.uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM &&
	    errno != EROFS)
		return husk_errno(e, "chown pty slave to %u", (unsigned)p->user.uid);
	if (p->has_console_size && p->console_height && p->console_width) {
		struct winsize ws = { .ws_row = (unsigned short)p->console_height,
				      .ws_col = (unsigned short)p->console_width };
		if (ioctl(m, TIOCSWINSZ, &ws) < 0)
			return husk_errno(e, "set console size");
	}
	*master = move_fd(&m);
	*slave = move_fd(&s);
	return 0;
}

int husk_terminal_setup_stdio(int slave, struct husk_error *e)
{
	int r = 0;
	if (setsid() < 0)
		r = husk_errno(e, "setsid");
	else if (ioctl(slave, TIOCSCTTY, 0) < 0)
		r = husk_errno(e, "make the pty the controlling terminal");
	for (int fd = 0; r == 0 && fd <= 2; fd++)
		if (dup2(slave, fd) < 0)
			r = husk_errno(e, "dup pty onto fd %d", fd);
	if (slave > 2)
		close(slave);
	return r;
}

int husk_terminal_connect(const char *path, struct husk_error *e)
{
	return husk_unix_connect(path, "console socket", e);
}

int husk_terminal_send_console(int sock, int master, struct husk_error *e)
{
	/* runc's receivers (recvtty, conmon, containerd) read the fd and a
	 * name: the master's path. */
	static const char name[] = "/dev/ptmx";
	if (husk_send_fd(sock, name, sizeof(name) - 1, master) < 0)
		return husk_errno(e, "send the pty master to the console socket");
	return 0;
}

/* --- foreground wait and pty proxy --- */

struct proxy {
	int master;
	bool in_open;          /* still reading our stdin */
	bool raw;
	struct termios saved;
	char in[8192];         /* stdin -> master, not yet written */
	size_t in_len, in_off;
};

static void copy_winsize(int master)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

/* Master output to our stdout.  Returns false once the pty is gone. */
static bool pump_out(int master)
{
	char buf[16384];
	ssize_t n = read(master, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false; /* EIO: every slave fd closed */
	husk_write_all(STDOUT_FILENO, buf, (size_t)n);
	return true;
}

static void pump_in(struct proxy *px, short revents_in, short revents_master)
{
	if (px->in_len == 0 && (revents_in & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(STDIN_FILENO, px->in, sizeof(px->in));
		if (n > 0) {
			px->in_len = (size_t)n;
			px->in_off = 0;
		} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			px->in_open = false;
		}
	}
	if (px->in_len && (revents_master & POLLOUT || revents_in)) {
		ssize_t n = write(px->master, px->in + px->in_off, px->in_len);
		if (n > 0) {
			px->in_off += (size_t)n;
			px->in_len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			px->in_len = 0;
			px->in_open = false;
		}
	}
}

static bool reap(pid_t pid, int *status)
{
	bool done = false;
	pid_t r;
	int st;
	while ((r = waitpid(-1, &st, WNOHANG)) > 0)
		if (r == pid) {
			*status = st;
			done = true;
		}
	return done;
}

int husk_terminal_wait(pid_t pid, int master, const sigset_t *set, int *status,
		       struct husk_error *e)
{
	_cleanup_fd_ int sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return husk_errno(e, "signalfd");
	struct proxy px = { .master = master, .in_open = master >= 0 };
	if (master >= 0) {
		fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &px.saved) == 0) {
			struct termios raw = px.saved;
			cfmakeraw(&raw);
			px.raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
		}
		copy_winsize(master);
	}
	bool pty_open = master >= 0;
	bool exited = reap(pid, status);
	while (!exited) {
		struct pollfd p[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = pty_open ? master : -1,
			  .events = (short)(POLLIN | (px.in_len ? POLLOUT : 0)) },
			{ .fd = pty_open && px.in_open && !px.in_len ? STDIN_FILENO : -1,
			  .events = POLLIN },
		};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return husk_errno(e, "poll");
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
			pty_open = pump_out(master);
		if (pty_open && (p[2].revents || (p[1].revents & POLLOUT)))
			pump_in(&px, p[2].revents, p[1].revents);
		if (!(p[0].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			int sig = (int)si.ssi_signo;
			if (sig == SIGCHLD)
				exited |= reap(pid, status);
			else if (sig == SIGWINCH && master >= 0)
				copy_winsize(master);
			else
				kill(pid, sig);
		}
	}
	if (pty_open) {
		/* What the process wrote before exiting; stop when the pty
		 * goes quiet, as another process may keep the slave open. */
		struct pollfd p = { .fd = master, .events = POLLIN };
		while (poll(&p, 1, 100) > 0 && pump_out(master))
			;
	}
	if (px.raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &px.saved);
	return 0;
}
