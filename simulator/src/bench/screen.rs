//! The 1920x1080 session that figures 1–3 share, and both daemons watching
//! it: the seed pipeline and the native backend measured on the same X
//! server in the same run, one after the other, never at the same time.

use super::stage::{start_sides, Backend, Side};
use super::Ctx;
use crate::drivers::xvfb::{Pattern, Xvfb};
use anyhow::Result;

pub const WIDTH: u16 = 1920;
pub const HEIGHT: u16 = 1080;

/// A desktop-like still picture for the first frame and the idle figure.
pub const STILL: Pattern = Pattern::Noise { seed: 5 };

pub struct Screen {
    pub x: Xvfb,
    pub id: String,
    sides: Vec<Side>,
}

impl Screen {
    pub async fn start(ctx: &Ctx) -> Result<Screen> {
        let x = tokio::task::block_in_place(|| -> Result<Xvfb> {
            let x = Xvfb::start(WIDTH, HEIGHT)?;
            x.draw(STILL)?;
            Ok(x)
        })?;
        let sides = start_sides(&ctx.bin, 4).await?;
        Ok(Screen { id: x.display_number().to_string(), x, sides })
    }

    pub fn side(&self, b: Backend) -> &Side {
        self.sides.iter().find(|s| s.backend == b).expect("both sides exist")
    }

    pub fn display(&self) -> String {
        self.x.display()
    }

    /// Puts the still picture back (a workload may have drawn over it).
    pub fn reset(&self) -> Result<()> {
        tokio::task::block_in_place(|| self.x.draw(STILL))
    }
}

/// Native first on even repetitions, external first on odd ones, so a
/// slow phase of a shared machine hits both alike.
pub fn order(rep: usize) -> [Backend; 2] {
    if rep.is_multiple_of(2) {
        [Backend::Native, Backend::External]
    } else {
        [Backend::External, Backend::Native]
    }
}
