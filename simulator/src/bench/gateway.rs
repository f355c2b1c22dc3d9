//! Figure 5 as rows: the gateway's and websockify's MB/s and CPU, both
//! directions, medians over alternating repetitions.

use super::results::{Row, Target};
use super::stage::median;
use super::throughput::{measure, measure_direct, Direction, Proxy, Sample};
use super::Ctx;

pub const NAME: &str = "gateway";

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let reps = ctx.reps(3, 1);
    let secs = ctx.window(8.0, 1.0);
    let mut rows = Vec::new();
    // The ceiling of this machine, in the same run: what loopback TCP
    // carries with no proxy at all (the proxies' target→client figures sit
    // near it, so their ratio says more about the machine than about them).
    let mut direct = Vec::new();
    for _ in 0..reps {
        match measure_direct(secs).await {
            Ok(mb) => direct.push(mb),
            Err(e) => eprintln!("shadowsim bench: loopback reference: {e:#}"),
        }
    }
    let ceiling = if direct.is_empty() {
        String::new()
    } else {
        format!("; loopback TCP with no proxy in this run: {:.0} MB/s", median(&direct))
    };
    for direction in [Direction::Upstream, Direction::Downstream] {
        let mut samples: [Vec<Sample>; 2] = [vec![], vec![]];
        let mut errors = Vec::new();
        for rep in 0..reps {
            let proxies =
                if rep % 2 == 0 { [Proxy::Gateway, Proxy::Websockify] } else { [Proxy::Websockify, Proxy::Gateway] };
            for p in proxies {
                match measure(p, direction, secs).await {
                    Ok(s) => samples[(p == Proxy::Websockify) as usize].push(s),
                    Err(e) => errors.push(format!("{p:?}: {e:#}")),
                }
            }
        }
        let pick = |f: fn(&Sample) -> f64| -> (Vec<f64>, Vec<f64>) {
            (samples[0].iter().map(f).collect(), samples[1].iter().map(f).collect())
        };
        let (dir, keys) = match direction {
            Direction::Upstream => {
                ("client->target", ["gateway_up_mb_per_s", "gateway_up_cores", "gateway_up_mb_per_cpu_s"])
            }
            Direction::Downstream => {
                ("target->client", ["gateway_down_mb_per_s", "gateway_down_cores", "gateway_down_mb_per_cpu_s"])
            }
        };
        let (n, e) = pick(|s| s.mb_per_s);
        let rate = Row::new(NAME, keys[0], format!("WebSocket proxy {dir}"), "MB/s").samples(n, e).note(format!(
            "{} KiB messages, {reps} x {secs:.0} s each; gateway = shadowd::gateway in a process of its own, \
             external = websockify --inetd{ceiling}{}",
            super::throughput::MESSAGE / 1024,
            ctx.error_note(&errors)
        ));
        // The target is about the proxy as such: both directions.
        let rate = rate.target(Target::RatioAtLeast(3.0));
        let (n, e) = pick(|s| s.cores);
        let cpu = Row::new(NAME, keys[1], format!("  proxy CPU {dir}"), "cores").samples(n, e);
        let (n, e) = pick(|s| s.mb_per_s / s.cores.max(1e-3));
        let eff = Row::new(NAME, keys[2], format!("  MB per CPU second {dir}"), "MB/cpu-s").samples(n, e);
        rows.extend([rate, cpu, eff]);
    }
    rows
}
