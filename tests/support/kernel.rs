#![allow(dead_code)]
//! Kernel fixtures for the deaths and memory tests: a small C helper
//! (allocating hog, signal target, signal sender, page-cache thrasher)
//! compiled into the test's temp dir, and memory cgroups (v2 where its
//! memory controller is on, else v1) that the test creates and removes.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{copy_exe, unique_name, wait_until};

const HELPER_C: &str = r#"
#define _XOPEN_SOURCE 600
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
static void on_hup(int s) { (void)s; write(1, "hup\n", 4); }
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "hog")) {
        for (;;) { char *p = malloc(1 << 20); if (!p) pause(); memset(p, 1, 1 << 20); }
    }
    if (!strcmp(argv[1], "hogwait")) {
        /* A hog that waits for SIGUSR1 first, so a cycle can see it. */
        sigset_t set;
        int sig;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, 0);
        write(1, "ready\n", 6);
        sigwait(&set, &sig);
        for (;;) { char *p = malloc(1 << 20); if (!p) pause(); memset(p, 1, 1 << 20); }
    }
    if (!strcmp(argv[1], "webterm") && argc >= 3) {
        /* A web terminal: hold a pty master, run ARGV[2..] on its slave as
           the session's controlling terminal, print the child's pid, drain
           the master; on a line on stdin (the "WebSocket closed"), send
           SIGHUP then SIGKILL to the child, like ttyd does, and serve on
           until stdin closes. */
        int m = posix_openpt(O_RDWR | O_NOCTTY);
        if (m < 0 || grantpt(m) || unlockpt(m)) return 1;
        char *name = ptsname(m);
        pid_t c = fork();
        if (c < 0) return 1;
        if (c == 0) {
            close(m);
            setsid();
            int s = open(name, O_RDWR);
            if (s < 0) _exit(126);
            dup2(s, 0); dup2(s, 1); dup2(s, 2);
            execvp(argv[2], argv + 2);
            _exit(127);
        }
        printf("%d\n", (int)c);
        fflush(stdout);
        if (fork() == 0) { /* drain the master so the client never blocks */
            char b[4096];
            while (read(m, b, sizeof b) > 0) {}
            _exit(0);
        }
        char line[16];
        if (read(0, line, sizeof line) <= 0) return 1;
        int hup = kill(c, SIGHUP);
        int kil = kill(c, SIGKILL);
        waitpid(c, 0, 0);
        printf("done %d %d\n", hup, kil);
        fflush(stdout);
        /* A web terminal outlives one closed WebSocket: stay until stdin
           closes. */
        while (read(0, line, sizeof line) > 0) {}
        return 0;
    }
    if (!strcmp(argv[1], "target")) {
        signal(SIGHUP, on_hup);
        write(1, "ready\n", 6);
        for (;;) pause();
    }
    if (!strcmp(argv[1], "send") && argc >= 4) {
        pid_t pid = atoi(argv[2]);
        for (int i = 3; i < argc; i++) {
            if (kill(pid, atoi(argv[i])) != 0) return 1;
            usleep(100000);
        }
        return 0;
    }
    if (!strcmp(argv[1], "hangup") && argc >= 3) {
        /* Hold a pty master, run `ARGV[2] target` on its slave as the
           session's controlling terminal, print its pid, then close the
           master: the kernel hangs the terminal up (SIGHUP, SI_KERNEL). */
        int m = posix_openpt(O_RDWR | O_NOCTTY);
        if (m < 0 || grantpt(m) || unlockpt(m)) return 1;
        char *name = ptsname(m);
        pid_t c = fork();
        if (c < 0) return 1;
        if (c == 0) {
            close(m); /* only the closer holds the master */
            setsid();
            int s = open(name, O_RDWR);
            if (s < 0) _exit(126);
            dup2(s, 0); dup2(s, 1); dup2(s, 2);
            execl(argv[2], argv[2], "target", (char *)0);
            _exit(127);
        }
        char buf[64];
        if (read(m, buf, sizeof buf) <= 0) return 1; /* "ready" */
        printf("%d\n", (int)c);
        fflush(stdout);
        close(m);
        usleep(300000);
        return 0;
    }
    if (!strcmp(argv[1], "thrash") && argc >= 4) {
        /* Write the file from inside the cgroup, so its page cache is
           charged here, then read it over and over: refaults stall. */
        static char buf[1 << 16];
        long mib = atol(argv[3]);
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) return 1;
        memset(buf, 7, sizeof buf);
        for (long i = 0; i < mib * 16; i++) if (write(fd, buf, sizeof buf) < 0) return 1;
        fsync(fd);
        close(fd);
        write(1, "ready\n", 6);
        for (;;) {
            fd = open(argv[2], O_RDONLY);
            if (fd < 0) return 1;
            while (read(fd, buf, sizeof buf) > 0) {}
            close(fd);
        }
    }
    return 2;
}
"#;

/// Compiles the helper into `dir` (cc is there wherever Rust links).
pub fn compile_helper(dir: &Path) -> PathBuf {
    let src = dir.join("helper.c");
    std::fs::write(&src, HELPER_C).unwrap();
    let bin = dir.join("helper");
    let out = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("cc");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// A copy of `bin` under a unique name (its processes get that comm).
pub fn copy_as(dir: &Path, bin: &Path, tag: &str) -> (String, PathBuf) {
    let name = unique_name(tag);
    let path = dir.join(&name);
    copy_exe(bin, &path);
    (name, path)
}

fn mount_of(kind: &str) -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[2] == kind).then(|| PathBuf::from(f[1]))
    })
}

fn v1_memory_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 3 && f[2] == "cgroup" && f[3].split(',').any(|o| o == "memory"))
            .then(|| PathBuf::from(f[1]))
    })
}

/// A memory cgroup of this test: a limit (v2 `memory.max` where the v2
/// memory controller is enabled at the root, else v1
/// `memory.limit_in_bytes`), and a v2 directory (for `memory.pressure`)
/// where cgroup2 is mounted.
pub struct MemCgroup {
    /// Directory holding the memory limit.
    pub limit_dir: PathBuf,
    /// The v2 directory (the same as `limit_dir` on v2), if any.
    pub v2_dir: Option<PathBuf>,
    /// The path the kernel prints as `task_memcg`.
    pub memcg: String,
    pub version: u8,
}

impl MemCgroup {
    /// `None` when this kernel has no memory cgroup at all.
    pub fn new(tag: &str, limit: u64) -> Option<MemCgroup> {
        let name = format!("stray-test-{}", unique_name(tag));
        let v2 = mount_of("cgroup2");
        let v2_memory = v2.as_ref().is_some_and(|m| {
            std::fs::read_to_string(m.join("cgroup.subtree_control"))
                .is_ok_and(|c| c.split_whitespace().any(|w| w == "memory"))
        });
        let v2_dir = v2.map(|m| m.join(&name));
        if let Some(d) = &v2_dir {
            std::fs::create_dir(d).unwrap();
        }
        let cg = if v2_memory {
            let dir = v2_dir.clone().unwrap();
            std::fs::write(dir.join("memory.max"), limit.to_string()).unwrap();
            let _ = std::fs::write(dir.join("memory.swap.max"), "0");
            MemCgroup {
                limit_dir: dir,
                v2_dir,
                memcg: format!("/{name}"),
                version: 2,
            }
        } else {
            let Some(v1) = v1_memory_mount() else {
                if let Some(d) = &v2_dir {
                    let _ = std::fs::remove_dir(d);
                }
                return None;
            };
            let dir = v1.join(&name);
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("memory.limit_in_bytes"), limit.to_string()).unwrap();
            MemCgroup {
                limit_dir: dir,
                v2_dir,
                memcg: format!("/{name}"),
                version: 1,
            }
        };
        Some(cg)
    }

    /// Spawns `cmd` inside this cgroup (the child moves itself in before
    /// exec, so nothing of it runs outside the limit).
    pub fn spawn(&self, cmd: &mut Command) -> Child {
        let mut targets = vec![self.limit_dir.join("cgroup.procs")];
        if let Some(d) = &self.v2_dir {
            if *d != self.limit_dir {
                targets.push(d.join("cgroup.procs"));
            }
        }
        let paths: Vec<std::ffi::CString> = targets
            .iter()
            .map(|p| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap())
            .collect();
        // SAFETY: the closure only calls open/write/close, which are
        // async-signal-safe, on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                for p in &paths {
                    let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let ok = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
                    libc::close(fd);
                    if !ok {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        cmd.stdin(Stdio::null()).spawn().unwrap()
    }

    /// Starts the helper's page-cache thrasher inside this cgroup on a file
    /// of `mib` MiB (larger than the limit, so it stalls on memory), and
    /// returns once it says it is running.
    pub fn spawn_thrasher(&self, helper: &Path, file: &Path, mib: u32) -> Child {
        use std::io::BufRead;
        let mut child = self.spawn(
            Command::new(helper)
                .arg("thrash")
                .arg(file)
                .arg(mib.to_string())
                .stdout(Stdio::piped()),
        );
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n", "the thrasher did not start");
        child
    }

    fn pids(dir: &Path) -> Vec<i32> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        // Everything in these cgroups is this test's own.
        let mut dirs = vec![self.limit_dir.clone()];
        if let Some(d) = &self.v2_dir {
            if *d != self.limit_dir {
                dirs.push(d.clone());
            }
        }
        for d in &dirs {
            for pid in MemCgroup::pids(d) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        for d in &dirs {
            wait_until(Duration::from_secs(5), || {
                std::fs::remove_dir(d).is_ok() || !d.exists()
            });
        }
    }
}
