//! What changed on the display since the consumer last looked (pure).
//!
//! The watcher folds every X event into one pending [`Changes`] value that
//! the consumer takes whenever it is ready (typically when a viewer asks
//! for an update). Folding instead of queueing bounds memory and work when
//! the consumer is slower than the screen: a hundred damage events over one
//! window become one rectangle, ten cursor changes the latest image.

use super::cursor::CursorImage;
use super::geometry::Size;
use super::region::DirtyRegion;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Where pixels may have changed (grab these). After a resize this is
    /// the whole new screen.
    pub dirty: DirtyRegion,
    /// The screen's new size, when it changed: refresh the capture
    /// ([`super::Capture::refresh_size`]) and tell viewers (RFB DesktopSize).
    pub resized: Option<Size>,
    /// The new cursor, when it changed (RFB Cursor pseudo-encoding).
    pub cursor: Option<CursorImage>,
}

impl Changes {
    pub fn new(size: Size) -> Self {
        Changes { dirty: DirtyRegion::new(size), resized: None, cursor: None }
    }

    pub fn is_empty(&self) -> bool {
        self.dirty.is_empty() && self.resized.is_none() && self.cursor.is_none()
    }

    /// Folds `later` into `self`: regions merge, the latest size and cursor
    /// win.
    pub fn absorb(&mut self, later: Changes) {
        if let Some(size) = later.resized {
            self.resized = Some(size);
            self.dirty.resize(size);
        }
        self.dirty.merge(&later.dirty);
        if later.cursor.is_some() {
            self.cursor = later.cursor;
        }
    }

    /// Takes everything, leaving no changes (at the current size).
    pub fn take(&mut self) -> Changes {
        let size = self.dirty.bounds();
        std::mem::replace(self, Changes::new(size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::geometry::Rect;

    fn cursor(serial: u32) -> CursorImage {
        CursorImage::from_reply(1, 1, 0, 0, serial, vec![0]).unwrap()
    }

    #[test]
    fn absorb_merges_regions_and_keeps_the_latest() {
        let size = Size::new(100, 100);
        let mut pending = Changes::new(size);
        assert!(pending.is_empty());
        let mut a = Changes::new(size);
        a.dirty.add(Rect::new(0, 0, 10, 10));
        a.cursor = Some(cursor(1));
        pending.absorb(a);
        let mut b = Changes::new(size);
        b.dirty.add(Rect::new(5, 5, 10, 10));
        b.cursor = Some(cursor(2));
        pending.absorb(b);
        assert_eq!(pending.dirty.rects(), &[Rect::new(0, 0, 15, 15)]);
        assert_eq!(pending.cursor.as_ref().map(|c| c.serial), Some(2));
        pending.absorb(Changes::new(size));
        assert_eq!(pending.cursor.as_ref().map(|c| c.serial), Some(2), "no cursor news keeps the last");
    }

    #[test]
    fn a_resize_makes_everything_dirty_at_the_new_size() {
        let mut pending = Changes::new(Size::new(100, 100));
        pending.dirty.add(Rect::new(0, 0, 10, 10));
        let mut r = Changes::new(Size::new(50, 40));
        r.resized = Some(Size::new(50, 40));
        r.dirty.resize(Size::new(50, 40));
        pending.absorb(r);
        assert_eq!(pending.resized, Some(Size::new(50, 40)));
        assert!(pending.dirty.is_full());
        assert_eq!(pending.dirty.bounds(), Size::new(50, 40));
        // Damage reported at the old size after the resize is cut to the new.
        let mut late = Changes::new(Size::new(100, 100));
        late.dirty.add(Rect::new(60, 60, 10, 10));
        pending.absorb(late);
        assert!(pending.dirty.is_full());
        let taken = pending.take();
        assert!(pending.is_empty());
        assert_eq!(pending.dirty.bounds(), Size::new(50, 40));
        assert!(!taken.is_empty());
    }
}
