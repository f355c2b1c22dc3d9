//! The dirty region: damage rectangles merged into a short list (pure).
//!
//! X reports damage as many small, often overlapping rectangles (a line of
//! text is a rectangle per glyph run, a scrolled terminal a band per line).
//! Every rectangle we keep costs a grab request and an RFB rectangle header
//! and encoder start-up, so nearby rectangles are merged when the merged box
//! wastes little, and the list is capped: past [`MAX_RECTS`] the damage is
//! scattered, and one bounding box (or the whole screen) is cheaper than
//! many grabs.

use super::geometry::{Rect, Size};

/// Most rectangles kept before collapsing to one bounding box.
pub const MAX_RECTS: usize = 32;

/// Rectangles this close (pixels) are candidates for merging: grabbing a
/// thin strip twice is cheaper than a second request and rectangle.
pub const NEAR: u16 = 16;

/// Extra area a merge may add for free: about one 64x64 tile, below which a
/// second request costs more than the extra pixels.
const SLACK: u64 = 64 * 64;

/// A bounding box covering at least this share of the screen (in 1/16ths)
/// is widened to the whole screen.
const FULL_SCREEN_SIXTEENTHS: u64 = 8;

/// A merged set of rectangles inside a screen of size `bounds`. Rectangles
/// may overlap (an L-shape is kept as two), but each is inside `bounds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyRegion {
    bounds: Size,
    rects: Vec<Rect>,
}

impl DirtyRegion {
    pub fn new(bounds: Size) -> Self {
        DirtyRegion { bounds, rects: Vec::new() }
    }

    /// The whole screen.
    pub fn full(bounds: Size) -> Self {
        let mut r = DirtyRegion::new(bounds);
        r.add(bounds.rect());
        r
    }

    pub fn bounds(&self) -> Size {
        self.bounds
    }

    pub fn rects(&self) -> &[Rect] {
        &self.rects
    }

    pub fn is_empty(&self) -> bool {
        self.rects.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.rects.len() == 1 && self.rects[0] == self.bounds.rect()
    }

    /// Sum of the rectangles' areas (overlaps counted twice): what grabbing
    /// the region costs.
    pub fn area(&self) -> u64 {
        self.rects.iter().map(|r| r.area()).sum()
    }

    /// Adds `r` (cut to the screen), merging it with what is near.
    pub fn add(&mut self, r: Rect) {
        let Some(mut cur) = r.clip(self.bounds) else { return };
        if self.rects.iter().any(|k| k.contains(cur)) {
            return;
        }
        // Merging can make the box reach others, so repeat to a fixpoint.
        // The list is at most MAX_RECTS long: this stays cheap.
        while let Some(i) = self.rects.iter().position(|k| worth_merging(*k, cur)) {
            cur = cur.bounding(self.rects.swap_remove(i));
        }
        self.rects.push(cur);
        if self.rects.len() > MAX_RECTS {
            self.collapse();
        }
    }

    /// Adds every rectangle of `other` (which may be for an older screen
    /// size: its rectangles are cut to ours).
    pub fn merge(&mut self, other: &DirtyRegion) {
        for r in &other.rects {
            self.add(*r);
        }
    }

    /// Takes the rectangles out, leaving the region empty.
    pub fn take(&mut self) -> DirtyRegion {
        DirtyRegion { bounds: self.bounds, rects: std::mem::take(&mut self.rects) }
    }

    /// The screen changed size: everything is dirty at the new size.
    pub fn resize(&mut self, bounds: Size) {
        *self = DirtyRegion::full(bounds);
    }

    /// Too fragmented: one bounding box, or the whole screen when that box
    /// is most of it anyway.
    fn collapse(&mut self) {
        let Some(bb) = self.rects.iter().copied().reduce(Rect::bounding) else { return };
        let screen = self.bounds.rect();
        let bb = if bb.area() * 16 >= screen.area() * FULL_SCREEN_SIXTEENTHS { screen } else { bb };
        self.rects.clear();
        self.rects.push(bb);
    }
}

/// Whether one box for `a` and `b` is cheaper than two: they are near each
/// other and the box adds little area beyond what they cover.
fn worth_merging(a: Rect, b: Rect) -> bool {
    if !a.near(b, NEAR) {
        return false;
    }
    let overlap = a.intersection(b).map_or(0, Rect::area);
    let covered = a.area() + b.area() - overlap;
    let boxed = a.bounding(b).area();
    boxed <= covered + covered / 2 + SLACK
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: Size = Size::new(1920, 1080);

    fn region(rects: &[Rect]) -> DirtyRegion {
        let mut r = DirtyRegion::new(SCREEN);
        for x in rects {
            r.add(*x);
        }
        r
    }

    /// Every pixel of every input is inside some output rectangle.
    fn covers(region: &DirtyRegion, inputs: &[Rect]) -> bool {
        inputs.iter().filter_map(|r| r.clip(region.bounds())).all(|r| {
            (r.y..r.y + r.h)
                .all(|y| (r.x..r.x + r.w).all(|x| region.rects().iter().any(|k| k.contains(Rect::new(x, y, 1, 1)))))
        })
    }

    #[test]
    fn empty_and_offscreen_rects_are_ignored() {
        let r = region(&[Rect::new(0, 0, 0, 10), Rect::new(1920, 0, 10, 10)]);
        assert!(r.is_empty());
        assert_eq!(r.area(), 0);
    }

    #[test]
    fn overlapping_and_adjacent_rects_merge() {
        let r = region(&[Rect::new(10, 10, 100, 20), Rect::new(50, 15, 100, 20), Rect::new(150, 10, 30, 25)]);
        assert_eq!(r.rects(), &[Rect::new(10, 10, 170, 25)]);
    }

    #[test]
    fn glyph_runs_on_one_line_become_one_rect() {
        let runs: Vec<Rect> = (0..40).map(|i| Rect::new(100 + i * 9, 200, 8, 13)).collect();
        let r = region(&runs);
        assert_eq!(r.rects(), &[Rect::new(100, 200, 39 * 9 + 8, 13)]);
    }

    #[test]
    fn contained_rect_changes_nothing() {
        let r = region(&[Rect::new(0, 0, 500, 500), Rect::new(10, 10, 5, 5)]);
        assert_eq!(r.rects(), &[Rect::new(0, 0, 500, 500)]);
    }

    #[test]
    fn distant_rects_stay_apart() {
        let a = Rect::new(0, 0, 10, 10);
        let b = Rect::new(1000, 1000, 10, 10);
        let r = region(&[a, b]);
        assert_eq!(r.rects().len(), 2);
        assert_eq!(r.area(), 200);
    }

    #[test]
    fn a_cross_is_not_merged_into_its_box() {
        // One box would be 1000x1000 for 20k pixels of damage.
        let h = Rect::new(0, 500, 1000, 10);
        let v = Rect::new(500, 0, 10, 1000);
        let r = region(&[h, v]);
        assert_eq!(r.rects().len(), 2);
        assert!(covers(&r, &[h, v]));
    }

    #[test]
    fn merging_cascades() {
        // c bridges a and b, which were too far apart on their own.
        let a = Rect::new(0, 0, 100, 100);
        let b = Rect::new(130, 0, 100, 100);
        let c = Rect::new(95, 0, 40, 100);
        let r = region(&[a, b, c]);
        assert_eq!(r.rects(), &[Rect::new(0, 0, 230, 100)]);
    }

    #[test]
    fn fragmented_damage_collapses_to_its_box() {
        // A sparse grid in the top-left quarter: too many rects.
        let dots: Vec<Rect> = (0..10).flat_map(|i| (0..10).map(move |j| Rect::new(i * 90, j * 50, 4, 4))).collect();
        let r = region(&dots);
        assert!(r.rects().len() <= MAX_RECTS);
        assert!(covers(&r, &dots));
        assert!(!r.is_full(), "a quarter of the screen is not widened");
    }

    #[test]
    fn fragmented_damage_over_most_of_the_screen_becomes_full() {
        let dots: Vec<Rect> =
            (0..12).flat_map(|i| (0..12).map(move |j| Rect::new(i * 160 + 3, j * 90 + 3, 4, 4))).collect();
        let r = region(&dots);
        assert!(r.is_full());
        assert_eq!(r.rects(), &[SCREEN.rect()]);
    }

    #[test]
    fn count_is_capped_whatever_the_input() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as u16
        };
        let mut inputs = Vec::new();
        let mut r = DirtyRegion::new(SCREEN);
        for _ in 0..500 {
            let x = Rect::new(next() % 2000, next() % 1100, next() % 80, next() % 80);
            r.add(x);
            inputs.push(x);
            assert!(r.rects().len() <= MAX_RECTS);
            assert!(r.rects().iter().all(|k| SCREEN.rect().contains(*k)));
        }
        assert!(covers(&r, &inputs));
    }

    #[test]
    fn merge_take_and_resize() {
        let mut a = region(&[Rect::new(0, 0, 10, 10)]);
        let b = region(&[Rect::new(1000, 1000, 10, 10)]);
        a.merge(&b);
        assert_eq!(a.rects().len(), 2);
        let taken = a.take();
        assert!(a.is_empty());
        assert_eq!(taken.rects().len(), 2);
        a.resize(Size::new(800, 600));
        assert!(a.is_full());
        assert_eq!(a.bounds(), Size::new(800, 600));
        // An old region's rects are cut to the new, smaller screen.
        a.take();
        a.merge(&b);
        assert!(a.is_empty());
    }
}
