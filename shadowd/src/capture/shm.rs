//! A SysV shared memory segment for MIT-SHM (the only `unsafe` of capture).
//!
//! Security rule: segments are private (`IPC_PRIVATE`, no key another
//! process could look up), mode 0600, and never outlive the processes using
//! them. The last part is done by marking the segment for removal
//! (`IPC_RMID`) right after this process has mapped it and *before* the X
//! server attaches: Linux lets a process with access attach a segment that
//! is marked for removal (see shmctl(2), "SHM_DEST"), and the kernel frees it
//! when the last of us detaches or exits. So there is no moment, not even
//! between two system calls, in which a crash of this process would leave a
//! segment behind.

use nix::libc;
use std::io;
use std::ptr::NonNull;

/// `SHM_DEST` from <linux/shm.h>: the mode bit the kernel sets once a
/// segment is marked for removal (not exported by the libc crate).
pub const SHM_DEST: u32 = 0o1000;

/// A segment mapped read-only into this process. Unmapped on drop, which
/// (with the early `IPC_RMID`) lets the kernel free it once the X server
/// has detached too.
pub struct Segment {
    id: i32,
    addr: NonNull<u8>,
    len: usize,
}

// The mapping belongs to this value alone; it is read only through `&self`
// after the X server has replied that it finished writing.
unsafe impl Send for Segment {}

impl Segment {
    /// Creates a private 0600 segment of `len` bytes, maps it read-only, and
    /// marks it for removal. If `owner` is given (uid, gid), the segment is
    /// handed to that user first, so that an X server running as another
    /// user than us (a root daemon shadowing a rootless Xorg) may attach it;
    /// the mode stays 0600, so nobody else can.
    pub fn create(len: usize, owner: Option<(u32, u32)>) -> Result<Segment, String> {
        // SAFETY: plain system call; the result is checked.
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
        if id < 0 {
            return Err(format!("shmget of {len} bytes: {}", io::Error::last_os_error()));
        }
        // SAFETY: `id` is a segment we just created; a null address lets the
        // kernel choose where to map it.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), libc::SHM_RDONLY) };
        if addr as isize == -1 {
            let err = io::Error::last_os_error();
            remove(id);
            return Err(format!("shmat of segment {id}: {err}"));
        }
        let Some(addr) = NonNull::new(addr.cast::<u8>()) else {
            remove(id);
            return Err(format!("shmat of segment {id} returned null"));
        };
        let seg = Segment { id, addr, len };
        if let Some((uid, gid)) = owner {
            seg.set_owner(uid, gid)?;
        }
        if !remove(id) {
            return Err(format!("shmctl(IPC_RMID) of segment {id}: {}", io::Error::last_os_error()));
        }
        Ok(seg)
    }

    pub fn id(&self) -> i32 {
        self.id
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// How many processes have the segment mapped (this one counts): after
    /// the X server's ShmAttach it must be at least 2, or the server attached
    /// some *other* segment with the same id (another IPC namespace).
    pub fn attach_count(&self) -> Result<u64, String> {
        let ds = self.stat()?;
        // shmatt_t is c_ulong: 32 bits on some targets.
        #[allow(clippy::unnecessary_cast)]
        Ok(ds.shm_nattch as u64)
    }

    /// The segment's mode bits (permission bits plus `SHM_DEST`).
    #[cfg(test)]
    pub fn mode(&self) -> Result<u32, String> {
        Ok(self.stat()?.shm_perm.mode as u32)
    }

    /// `len` bytes from `offset`, or `None` if that is outside the segment.
    pub fn bytes(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: in bounds of a live mapping of `self.len` bytes. The X
        // server writes into it only while we wait for a ShmGetImage reply,
        // never while this borrow of `self` exists.
        Some(unsafe { std::slice::from_raw_parts(self.addr.as_ptr().add(offset), len) })
    }

    fn stat(&self) -> Result<libc::shmid_ds, String> {
        // SAFETY: shmid_ds is plain data; IPC_STAT fills it.
        let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
        if unsafe { libc::shmctl(self.id, libc::IPC_STAT, &mut ds) } < 0 {
            return Err(format!("shmctl(IPC_STAT) of segment {}: {}", self.id, io::Error::last_os_error()));
        }
        Ok(ds)
    }

    fn set_owner(&self, uid: u32, gid: u32) -> Result<(), String> {
        let mut ds = self.stat()?;
        ds.shm_perm.uid = uid;
        ds.shm_perm.gid = gid;
        ds.shm_perm.mode = 0o600;
        // SAFETY: IPC_SET reads the struct we pass.
        if unsafe { libc::shmctl(self.id, libc::IPC_SET, &mut ds) } < 0 {
            return Err(format!("shmctl(IPC_SET) of segment {} to uid {uid}: {}", self.id, io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: `addr` came from shmat and is detached exactly once; no
        // borrow of the bytes can outlive `self`.
        unsafe {
            libc::shmdt(self.addr.as_ptr().cast());
        }
    }
}

/// Marks segment `id` for removal; true on success.
fn remove(id: i32) -> bool {
    // SAFETY: plain system call on an id we created.
    unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_is_private_0600_and_already_marked_for_removal() {
        let seg = Segment::create(4096, None).unwrap();
        let mode = seg.mode().unwrap();
        assert_eq!(mode & 0o777, 0o600);
        assert_ne!(mode & SHM_DEST, 0, "marked for removal from the start");
        assert_eq!(seg.attach_count().unwrap(), 1);
        assert_eq!(seg.bytes(0, 4096).unwrap().len(), 4096);
        assert!(seg.bytes(1, 4096).is_none());
        assert!(seg.bytes(usize::MAX, 2).is_none());
        let id = seg.id();
        drop(seg);
        // Detached by its only user: the kernel has freed it.
        let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
        assert!(unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) } < 0);
    }
}
