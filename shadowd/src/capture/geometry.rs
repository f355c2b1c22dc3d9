//! Screen sizes and rectangles in screen pixels (pure).
//!
//! Everything is `u16` like X and RFB, and areas are `u64` so that sums of
//! many rectangles cannot overflow.

/// A screen (root window) size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Size {
    pub width: u16,
    pub height: u16,
}

impl Size {
    pub const fn new(width: u16, height: u16) -> Self {
        Size { width, height }
    }

    pub fn pixels(self) -> usize {
        self.width as usize * self.height as usize
    }

    /// The whole screen as a rectangle.
    pub fn rect(self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }
}

/// An axis-aligned rectangle; `x + w` and `y + h` never overflow because
/// every constructor outside of tests goes through [`Rect::clip`] or
/// [`Rect::from_signed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Rect {
    pub const fn new(x: u16, y: u16, w: u16, h: u16) -> Self {
        Rect { x, y, w, h }
    }

    /// A rectangle as X reports it (signed origin, e.g. a damage area of a
    /// window partly off screen), cut to `bounds`. `None` when nothing is left.
    pub fn from_signed(x: i32, y: i32, w: u32, h: u32, bounds: Size) -> Option<Rect> {
        let x0 = x.max(0) as i64;
        let y0 = y.max(0) as i64;
        let x1 = (x as i64 + w as i64).min(bounds.width as i64);
        let y1 = (y as i64 + h as i64).min(bounds.height as i64);
        (x1 > x0 && y1 > y0).then(|| Rect::new(x0 as u16, y0 as u16, (x1 - x0) as u16, (y1 - y0) as u16))
    }

    pub fn right(self) -> u32 {
        self.x as u32 + self.w as u32
    }

    pub fn bottom(self) -> u32 {
        self.y as u32 + self.h as u32
    }

    pub fn area(self) -> u64 {
        self.w as u64 * self.h as u64
    }

    pub fn is_empty(self) -> bool {
        self.w == 0 || self.h == 0
    }

    /// This rectangle cut to `bounds`; `None` when nothing is left.
    pub fn clip(self, bounds: Size) -> Option<Rect> {
        Rect::from_signed(self.x as i32, self.y as i32, self.w as u32, self.h as u32, bounds)
    }

    pub fn contains(self, other: Rect) -> bool {
        other.x >= self.x && other.y >= self.y && other.right() <= self.right() && other.bottom() <= self.bottom()
    }

    pub fn intersection(self, other: Rect) -> Option<Rect> {
        let x0 = self.x.max(other.x) as u32;
        let y0 = self.y.max(other.y) as u32;
        let x1 = self.right().min(other.right());
        let y1 = self.bottom().min(other.bottom());
        (x1 > x0 && y1 > y0).then(|| Rect::new(x0 as u16, y0 as u16, (x1 - x0) as u16, (y1 - y0) as u16))
    }

    /// The smallest rectangle holding both.
    pub fn bounding(self, other: Rect) -> Rect {
        let x0 = self.x.min(other.x);
        let y0 = self.y.min(other.y);
        let x1 = self.right().max(other.right());
        let y1 = self.bottom().max(other.bottom());
        // Both inputs fit in u16 coordinates, so their bounding box does too.
        Rect::new(x0, y0, (x1 - x0 as u32) as u16, (y1 - y0 as u32) as u16)
    }

    /// Whether the two are at most `gap` pixels apart on both axes
    /// (overlapping and touching count as 0 apart).
    pub fn near(self, other: Rect, gap: u16) -> bool {
        let gap = gap as u32;
        self.x as u32 <= other.right() + gap
            && other.x as u32 <= self.right() + gap
            && self.y as u32 <= other.bottom() + gap
            && other.y as u32 <= self.bottom() + gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_signed_clips_to_the_screen() {
        let s = Size::new(100, 50);
        assert_eq!(Rect::from_signed(-10, -5, 30, 20, s), Some(Rect::new(0, 0, 20, 15)));
        assert_eq!(Rect::from_signed(90, 40, 30, 30, s), Some(Rect::new(90, 40, 10, 10)));
        assert_eq!(Rect::from_signed(100, 0, 5, 5, s), None);
        assert_eq!(Rect::from_signed(-50, 0, 50, 5, s), None);
        assert_eq!(
            Rect::from_signed(i16::MAX as i32, 0, u16::MAX as u32, 5, Size::new(u16::MAX, 10)).unwrap().w,
            32768
        );
    }

    #[test]
    fn intersection_bounding_near() {
        let a = Rect::new(0, 0, 10, 10);
        let b = Rect::new(5, 5, 10, 10);
        assert_eq!(a.intersection(b), Some(Rect::new(5, 5, 5, 5)));
        assert_eq!(a.bounding(b), Rect::new(0, 0, 15, 15));
        let far = Rect::new(30, 0, 5, 5);
        assert_eq!(a.intersection(far), None);
        assert!(!a.near(far, 19));
        assert!(a.near(far, 20));
        // Touching edges are "near" at gap 0 but do not intersect.
        let touching = Rect::new(10, 0, 5, 5);
        assert!(a.near(touching, 0));
        assert_eq!(a.intersection(touching), None);
        assert!(a.contains(Rect::new(2, 2, 8, 8)));
        assert!(!a.contains(b));
    }

    #[test]
    fn max_coordinates_do_not_overflow() {
        let a = Rect::new(u16::MAX - 1, u16::MAX - 1, 1, 1);
        let b = Rect::new(0, 0, 1, 1);
        assert_eq!(a.bounding(b), Rect::new(0, 0, u16::MAX, u16::MAX));
        assert!(a.near(a, u16::MAX));
    }
}
