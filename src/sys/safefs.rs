//! File operations that cannot be steered through symlinks.
//!
//! A directory is opened once (`O_DIRECTORY | O_NOFOLLOW`) and checked on
//! the opened descriptor (`fstat`), so the check and the use are about the
//! same inode. Every file inside is then reached with `*at` calls relative
//! to that descriptor and opened `O_NOFOLLOW | O_NONBLOCK`: swapping the
//! directory for a symlink after the check, or planting a symlink or a FIFO
//! where a file is expected, can neither redirect a write nor hang a read.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{openat, renameat, OFlag, AT_FDCWD};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

/// An opened directory; files are addressed by name relative to it.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
}

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn is_kind(st: &FileStat, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(st.st_mode as _) & SFlag::S_IFMT == kind
}

/// Permission bits and type of a stat (`st_mode` is u16 on macOS).
#[allow(clippy::unnecessary_cast)]
pub(crate) fn mode(st: &FileStat) -> u32 {
    st.st_mode as u32
}

/// Why a directory or file is not trusted.
pub(crate) fn untrusted(st: &FileStat) -> Option<String> {
    let me = nix::unistd::geteuid().as_raw();
    if st.st_uid != me {
        return Some(format!("owned by uid {}, not {me}", st.st_uid));
    }
    if mode(st) & 0o022 != 0 {
        return Some(format!(
            "writable by group or others (mode {:o})",
            mode(st) & 0o7777
        ));
    }
    None
}

/// A file that is not ours, or that others can write: whatever it says
/// may have been written by someone else.
#[derive(Debug)]
pub(crate) struct Untrusted(pub String);

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Untrusted {}

/// Is `e` an [`Untrusted`] refusal (and why)?
pub(crate) fn untrusted_error(e: &io::Error) -> Option<&Untrusted> {
    e.get_ref()?.downcast_ref::<Untrusted>()
}

/// Reads all of `f`, failing with `InvalidData` past `max` bytes.
fn read_capped(f: File, max: u64) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    // One byte more than allowed tells "too large" from "exactly max".
    f.take(max + 1).read_to_end(&mut v)?;
    if v.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(v)
}

impl Dir {
    /// Opens `path` as a directory without following a symlink at its last
    /// component. ELOOP (or ENOTDIR) means "not a plain directory".
    pub(crate) fn open(path: &Path) -> io::Result<Dir> {
        let fd = openat(
            AT_FDCWD,
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        Ok(Dir { fd })
    }

    pub(crate) fn stat(&self) -> io::Result<FileStat> {
        fstat(&self.fd).map_err(errno)
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens `name` in this directory, never through a symlink and never
    /// blocking on a FIFO. Refuses anything but a regular file.
    pub(crate) fn open_file(&self, name: &str, flags: OFlag, mode: u32) -> io::Result<File> {
        let fd = openat(
            &self.fd,
            name,
            flags | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode as _),
        )
        .map_err(errno)?;
        let st = fstat(&fd).map_err(errno)?;
        if !is_kind(&st, SFlag::S_IFREG) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a regular file",
            ));
        }
        let f = File::from(fd);
        // Regular files ignore O_NONBLOCK, but clear it anyway so that
        // nothing downstream sees EAGAIN.
        let _ = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(flags & !OFlag::O_CREAT));
        Ok(f)
    }

    /// Reads a whole regular file of at most `max` bytes. A symlink fails
    /// with ELOOP; a FIFO, socket, device or oversized file with
    /// `InvalidData`: none can hang the read or exhaust memory.
    pub(crate) fn read(&self, name: &str, max: u64) -> io::Result<Vec<u8>> {
        read_capped(self.open_file(name, OFlag::O_RDONLY, 0)?, max)
    }

    /// [`Dir::read`] of a file that must be ours and writable by no one
    /// else, checked on the opened file (so not on some other file put in
    /// its place): anything else fails with an [`Untrusted`] error, unread.
    pub(crate) fn read_trusted(&self, name: &str, max: u64) -> io::Result<Vec<u8>> {
        let f = self.open_file(name, OFlag::O_RDONLY, 0)?;
        let st = fstat(&f).map_err(errno)?;
        if let Some(why) = untrusted(&st) {
            return Err(io::Error::other(Untrusted(why)));
        }
        read_capped(f, max)
    }

    /// Renames `from` to `to`, both in this directory. Renaming a symlink
    /// moves the link itself, never its target.
    pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        renameat(&self.fd, from, &self.fd, to).map_err(errno)
    }

    pub(crate) fn remove(&self, name: &str) -> io::Result<()> {
        nix::unistd::unlinkat(&self.fd, name, nix::unistd::UnlinkatFlags::NoRemoveDir)
            .map_err(errno)
    }

    /// Replaces `name` with `bytes` atomically: a fresh temp file (O_EXCL,
    /// `.NAME.tmp-PID`), given `mode` whatever the umask, fsync, rename over
    /// `name`, fsync the directory. A reader sees the old file or the new
    /// one, never half of either.
    pub(crate) fn write_atomic(&self, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = format!(".{name}.tmp-{}", std::process::id());
        let _ = self.remove(&tmp);
        let result = (|| {
            let mut f =
                self.open_file(&tmp, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL, mode)?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
            f.write_all(bytes)?;
            f.sync_all()?;
            self.rename(&tmp, name)?;
            nix::unistd::fsync(&self.fd).map_err(errno)
        })();
        if result.is_err() {
            let _ = self.remove(&tmp);
        }
        result
    }
}

/// Reserves `len` more bytes of disk for `f` beyond its end without changing
/// its size, so that a later append of up to `len` bytes cannot fail for
/// lack of space. `Ok(false)` when the filesystem cannot reserve (then
/// nothing is promised).
#[cfg(target_os = "linux")]
pub(crate) fn reserve(f: &File, len: u64) -> io::Result<bool> {
    use nix::fcntl::{fallocate, FallocateFlags};
    if len == 0 {
        return Ok(true);
    }
    let end = f.metadata()?.len();
    match fallocate(
        f,
        FallocateFlags::FALLOC_FL_KEEP_SIZE,
        end as libc::off_t,
        len as libc::off_t,
    ) {
        Ok(()) => Ok(true),
        Err(nix::Error::EOPNOTSUPP) | Err(nix::Error::ENOSYS) => Ok(false),
        Err(e) => Err(errno(e)),
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn reserve(_f: &File, _len: u64) -> io::Result<bool> {
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn refuses_symlinks_and_fifos() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        std::os::unix::fs::symlink(t.path().join("real"), t.path().join("link")).unwrap();
        assert!(Dir::open(&t.path().join("link")).is_err());
        let d = Dir::open(&t.path().join("real")).unwrap();
        std::fs::write(t.path().join("target"), "secret").unwrap();
        std::os::unix::fs::symlink(t.path().join("target"), t.path().join("real/f")).unwrap();
        let err = d.read("f", 1 << 20).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        // A write to the symlinked name replaces the link, not the target.
        d.write_atomic("f", b"new", 0o600).unwrap();
        assert_eq!(std::fs::read(t.path().join("target")).unwrap(), b"secret");
        assert_eq!(d.read("f", 1 << 20).unwrap(), b"new");
        let mode = std::fs::metadata(t.path().join("real/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        nix::unistd::mkfifo(&t.path().join("real/fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        let err = d.read("fifo", 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // A huge (sparse) file is refused without reading it all.
        let big = std::fs::File::create(t.path().join("real/big")).unwrap();
        big.set_len(1 << 40).unwrap();
        let err = d.read("big", 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(d.read("f", 3).unwrap(), b"new");
    }

    #[test]
    fn operations_follow_the_opened_dir_not_the_path() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("state");
        std::fs::create_dir(&path).unwrap();
        let d = Dir::open(&path).unwrap();
        // Swap the directory for a symlink to somewhere else after opening.
        std::fs::rename(&path, t.path().join("moved")).unwrap();
        std::fs::create_dir(t.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(t.path().join("elsewhere"), &path).unwrap();
        d.write_atomic("state.json", b"{}", 0o600).unwrap();
        assert!(t.path().join("moved/state.json").exists());
        assert!(!t.path().join("elsewhere/state.json").exists());
    }
}
