//! Change detection on a grid of tiles (pure).
//!
//! Damage says where something was *drawn*, not whether pixels changed: a
//! blinking caret redrawn in the same colour, a repainted but identical
//! window, a toolkit clearing and redrawing a widget. Comparing each grabbed
//! row with the previous framebuffer row per tile lets the server send only
//! tiles whose pixels really differ, which is where x11vnc (polling and
//! comparing scanlines) saves its bandwidth too.

use super::geometry::{Rect, Size};

/// Tile edge in pixels. 64 is what TigerVNC's comparing tracker uses: small
/// enough to skip most unchanged area, large enough that the rectangle count
/// stays low.
pub const TILE: u16 = 64;

/// One flag per tile of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileMask {
    size: Size,
    cols: usize,
    rows: usize,
    dirty: Vec<bool>,
}

impl TileMask {
    pub fn new(size: Size) -> Self {
        let cols = (size.width as usize).div_ceil(TILE as usize);
        let rows = (size.height as usize).div_ceil(TILE as usize);
        TileMask { size, cols, rows, dirty: vec![false; cols * rows] }
    }

    pub fn size(&self) -> Size {
        self.size
    }

    pub fn clear(&mut self) {
        self.dirty.fill(false);
    }

    pub fn is_clear(&self) -> bool {
        !self.dirty.contains(&true)
    }

    /// Marks the tiles of row `y` whose part of `[x0, x0 + new.len())`
    /// differs between `old` and `new` (both that row's pixels from `x0`).
    /// Tiles already marked are not compared again.
    pub fn compare_row(&mut self, y: u16, x0: u16, old: &[u32], new: &[u32]) {
        debug_assert_eq!(old.len(), new.len());
        let row = y as usize / TILE as usize;
        let end = x0 as usize + new.len();
        let mut x = x0 as usize;
        while x < end {
            let col = x / TILE as usize;
            let seg_end = ((col + 1) * TILE as usize).min(end);
            let idx = row * self.cols + col;
            if !self.dirty[idx] {
                let (a, b) = (x - x0 as usize, seg_end - x0 as usize);
                // Slice equality is a memcmp: this is the hot loop.
                if old[a..b] != new[a..b] {
                    self.dirty[idx] = true;
                }
            }
            x = seg_end;
        }
    }

    /// Marks every tile touching `r` (e.g. when there is nothing to compare
    /// against).
    pub fn mark(&mut self, r: Rect) {
        let Some(r) = r.clip(self.size) else { return };
        let t = TILE as usize;
        for row in r.y as usize / t..(r.bottom() as usize).div_ceil(t) {
            for col in r.x as usize / t..(r.right() as usize).div_ceil(t) {
                self.dirty[row * self.cols + col] = true;
            }
        }
    }

    /// The marked tiles as few rectangles (runs along each tile row, joined
    /// with identical runs below), cut to the screen; clears the mask.
    pub fn take_rects(&mut self) -> Vec<Rect> {
        // Open rectangles from the previous tile row: (first col, end col, rect).
        let mut open: Vec<(usize, usize, Rect)> = Vec::new();
        let mut done = Vec::new();
        for row in 0..self.rows {
            let mut next_open = Vec::new();
            let mut col = 0;
            while col < self.cols {
                if !self.dirty[row * self.cols + col] {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < self.cols && self.dirty[row * self.cols + col] {
                    col += 1;
                }
                let band = self.tile_rect(row, start, col);
                let r = match open.iter().position(|&(s, e, _)| s == start && e == col) {
                    Some(i) => {
                        let (_, _, above) = open.swap_remove(i);
                        Rect::new(above.x, above.y, above.w, above.h + band.h)
                    }
                    None => band,
                };
                next_open.push((start, col, r));
            }
            done.extend(open.drain(..).map(|(_, _, r)| r));
            open = next_open;
        }
        done.extend(open.into_iter().map(|(_, _, r)| r));
        self.dirty.fill(false);
        done
    }

    /// Pixels of tiles `[c0, c1)` in tile row `row`, cut to the screen.
    fn tile_rect(&self, row: usize, c0: usize, c1: usize) -> Rect {
        let t = TILE as usize;
        let x = c0 * t;
        let y = row * t;
        let w = (c1 * t).min(self.size.width as usize) - x;
        let h = ((row + 1) * t).min(self.size.height as usize) - y;
        Rect::new(x as u16, y as u16, w as u16, h as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_rows_mark_nothing() {
        let mut m = TileMask::new(Size::new(200, 100));
        let row = vec![7u32; 200];
        m.compare_row(5, 0, &row, &row);
        assert!(m.is_clear());
        assert!(m.take_rects().is_empty());
    }

    #[test]
    fn a_changed_pixel_marks_its_tile_only() {
        let mut m = TileMask::new(Size::new(200, 100));
        let old = vec![0u32; 150];
        let mut new = old.clone();
        new[100 - 30] = 1; // x = 100 with the row starting at x0 = 30
        m.compare_row(70, 30, &old, &new);
        assert_eq!(m.take_rects(), vec![Rect::new(64, 64, 64, 36)]);
        assert!(m.is_clear(), "taking clears");
    }

    #[test]
    fn edge_tiles_are_cut_to_the_screen() {
        let mut m = TileMask::new(Size::new(130, 70));
        m.mark(Rect::new(129, 69, 1, 1));
        assert_eq!(m.take_rects(), vec![Rect::new(128, 64, 2, 6)]);
    }

    #[test]
    fn runs_join_vertically_when_identical() {
        let mut m = TileMask::new(Size::new(640, 480));
        // A 2-tile-wide column over 3 tile rows, and a lone tile beside it.
        m.mark(Rect::new(64, 0, 128, 192));
        m.mark(Rect::new(512, 64, 1, 1));
        let mut rects = m.take_rects();
        rects.sort_by_key(|r| (r.x, r.y));
        assert_eq!(rects, vec![Rect::new(64, 0, 128, 192), Rect::new(512, 64, 64, 64)]);
    }

    #[test]
    fn differing_runs_stay_separate() {
        let mut m = TileMask::new(Size::new(256, 256));
        m.mark(Rect::new(0, 0, 128, 64));
        m.mark(Rect::new(0, 64, 64, 64));
        let mut rects = m.take_rects();
        rects.sort_by_key(|r| (r.y, r.x));
        assert_eq!(rects, vec![Rect::new(0, 0, 128, 64), Rect::new(0, 64, 64, 64)]);
    }

    #[test]
    fn rects_cover_exactly_the_marked_tiles() {
        let size = Size::new(1000, 700);
        let mut m = TileMask::new(size);
        let mut seed = 3u64;
        for d in m.dirty.iter_mut() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            *d = seed >> 62 == 0;
        }
        let expect = m.dirty.clone();
        let rects = m.take_rects();
        let mut got = TileMask::new(size);
        let mut pixels = 0;
        for r in &rects {
            got.mark(*r);
            pixels += r.area();
        }
        // No overlaps: the areas add up to the marked tiles' areas.
        let cols = m.cols;
        let tile_area: u64 = (0..expect.len())
            .filter(|&i| expect[i])
            .map(|i| m.tile_rect(i / cols, i % cols, i % cols + 1).area())
            .sum();
        assert_eq!(got.dirty, expect);
        assert_eq!(pixels, tile_area);
    }
}
