//! An RGB image: what a display shows or what a viewer received, with the
//! comparison and PNG encoding that assertions and reports need.

use std::fmt;

/// Pixels as `0x00RRGGBB`, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    pub width: u16,
    pub height: u16,
    pub pixels: Vec<u32>,
}

/// Where two images differ, for an assertion message that says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub differing_pixels: usize,
    pub first: Option<(u16, u16, u32, u32)>,
    pub size_mismatch: Option<((u16, u16), (u16, u16))>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((a, b)) = self.size_mismatch {
            return write!(f, "size {}x{} vs {}x{}", a.0, a.1, b.0, b.1);
        }
        write!(f, "{} pixels differ", self.differing_pixels)?;
        if let Some((x, y, a, b)) = self.first {
            write!(f, "; first at ({x},{y}): #{a:06x} vs #{b:06x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Image({}x{})", self.width, self.height)
    }
}

impl Image {
    pub fn new(width: u16, height: u16, fill: u32) -> Self {
        Image { width, height, pixels: vec![fill; width as usize * height as usize] }
    }

    pub fn get(&self, x: u16, y: u16) -> u32 {
        self.pixels[y as usize * self.width as usize + x as usize]
    }

    pub fn set(&mut self, x: u16, y: u16, rgb: u32) {
        let w = self.width as usize;
        self.pixels[y as usize * w + x as usize] = rgb;
    }

    /// `None` when equal; otherwise how they differ.
    pub fn diff(&self, other: &Image) -> Option<Difference> {
        if (self.width, self.height) != (other.width, other.height) {
            return Some(Difference {
                differing_pixels: 0,
                first: None,
                size_mismatch: Some(((self.width, self.height), (other.width, other.height))),
            });
        }
        let mut count = 0;
        let mut first = None;
        for (i, (a, b)) in self.pixels.iter().zip(&other.pixels).enumerate() {
            if a != b {
                count += 1;
                if first.is_none() {
                    let x = (i % self.width as usize) as u16;
                    let y = (i / self.width as usize) as u16;
                    first = Some((x, y, *a, *b));
                }
            }
        }
        (count > 0).then_some(Difference { differing_pixels: count, first, size_mismatch: None })
    }

    /// Like [`Image::diff`], but pixels whose every channel is within
    /// `tolerance` of the other's count as equal: for lossy encodings
    /// (Tight JPEG), where exact equality cannot hold.
    pub fn diff_within(&self, other: &Image, tolerance: u8) -> Option<Difference> {
        let mut d = self.diff(other)?;
        if d.size_mismatch.is_some() || tolerance == 0 {
            return Some(d);
        }
        let close = |a: u32, b: u32| (0..3).all(|c| channel(a, c).abs_diff(channel(b, c)) <= tolerance);
        let mut far = self.pixels.iter().zip(&other.pixels).enumerate().filter(|(_, (a, b))| !close(**a, **b));
        let first = far.next()?;
        let w = self.width as usize;
        d.first = Some(((first.0 % w) as u16, (first.0 / w) as u16, *first.1 .0, *first.1 .1));
        d.differing_pixels = 1 + far.count();
        Some(d)
    }

    /// The largest difference of any channel of any pixel (images of one size).
    pub fn max_channel_delta(&self, other: &Image) -> u8 {
        let pairs = self.pixels.iter().zip(&other.pixels);
        pairs.flat_map(|(a, b)| (0..3).map(move |c| channel(*a, c).abs_diff(channel(*b, c)))).max().unwrap_or(0)
    }

    /// Encodes as PNG (8-bit RGB) for reports.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().expect("png header to a Vec cannot fail");
            let mut data = Vec::with_capacity(self.pixels.len() * 3);
            for p in &self.pixels {
                data.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, *p as u8]);
            }
            writer.write_image_data(&data).expect("png data to a Vec cannot fail");
        }
        out
    }
}

fn channel(rgb: u32, c: u32) -> u8 {
    (rgb >> (8 * c)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_within_tolerates_small_channel_errors_only() {
        let a = Image::new(4, 2, 0x808080);
        let mut b = a.clone();
        b.set(0, 0, 0x838080);
        b.set(1, 0, 0x80807d);
        assert!(a.diff(&b).is_some());
        assert_eq!(a.diff_within(&b, 3), None);
        assert_eq!(a.max_channel_delta(&b), 3);
        b.set(3, 1, 0x808084);
        let d = a.diff_within(&b, 3).unwrap();
        assert_eq!((d.differing_pixels, d.first), (1, Some((3, 1, 0x808080, 0x808084))));
    }

    #[test]
    fn diff_reports_count_and_first_difference() {
        let a = Image::new(4, 3, 0x112233);
        let mut b = a.clone();
        assert_eq!(a.diff(&b), None);
        b.set(2, 1, 0xffffff);
        b.set(3, 2, 0x000000);
        let d = a.diff(&b).unwrap();
        assert_eq!(d.differing_pixels, 2);
        assert_eq!(d.first, Some((2, 1, 0x112233, 0xffffff)));
        assert_eq!(a.diff(&Image::new(4, 4, 0)).unwrap().size_mismatch, Some(((4, 3), (4, 4))));
    }

    #[test]
    fn png_round_trips_through_a_decoder() {
        let mut a = Image::new(3, 2, 0x0000ff);
        a.set(1, 1, 0xabcdef);
        let bytes = a.to_png();
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(&buf[(3 + 1) * 3..(3 + 1) * 3 + 3], &[0xab, 0xcd, 0xef]);
    }
}
