//! Running one case: build its world, run its steps in order (each with its
//! delay and time limit, runtime `${...}` filled in, `repeat` unrolled),
//! stop at the first failure, and gather what the report needs.

use super::events::Recorder;
use super::ports::{Block, PortBlocks};
use super::steps;
use super::target::Launcher;
use super::trace::normalize;
use super::world::{write_tls, Session, World, FQDN};
use crate::drivers::certs::TestCa;
use crate::drivers::daemon::DaemonOptions;
use crate::drivers::director::Director;
use crate::drivers::xvfb::{InputProbe, Xvfb};
use crate::report::{CaseResult, Status, StepResult};
use crate::scenario::{interpolate, Backend, Case, Step, StepNode, VarRef};
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub struct Env<'a> {
    pub launcher: &'a dyn Launcher,
    pub blocks: &'a PortBlocks,
}

pub async fn run_case(case: &Case, env: &Env<'_>, repetition: u32) -> CaseResult {
    let started = Instant::now();
    let mut result = CaseResult {
        name: case.name.clone(),
        scenario: case.scenario.clone(),
        file: case.path.display().to_string(),
        description: case.description.clone().unwrap_or_default(),
        tags: case.tags.clone(),
        matrix: case.axes.iter().cloned().collect(),
        repetition,
        status: Status::Passed,
        duration_ms: 0,
        message: None,
        steps: vec![],
        daemon_log: None,
        events: vec![],
        trace: vec![],
    };
    if let Some(reason) = super::needs_testbed(&case.tags) {
        result.status = Status::Skipped;
        result.message = Some(reason);
        return result;
    }
    let Some(block) = env.blocks.lend(case.daemon.ports) else {
        result.status = Status::Failed;
        let (first, last) = crate::drivers::ports::test_port_span();
        result.message = Some(format!(
            "no free block of {} ports for this case in {first}-{last} (the ports outside the kernel's ephemeral range)",
            case.daemon.ports.len()
        ));
        return result;
    };
    match setup(case, env, block).await {
        Err(e) => {
            result.status = Status::Failed;
            result.message = Some(format!("setting up the case failed: {e:#}"));
        }
        Ok(mut world) => {
            let deadline = started + case.timeout.as_std();
            let mut runner = StepRunner { case, deadline, results: Vec::new(), halted: None };
            runner.run_all(&mut world, &case.steps, "", &BTreeMap::new()).await;
            result.steps = runner.results;
            let events = world.recorder.snapshot();
            result.trace = normalize(&events, &world);
            match runner.halted {
                None => {}
                Some(Halt::Unmet(reason)) => {
                    result.status = Status::Skipped;
                    result.message = Some(reason);
                }
                Some(Halt::Failed(message)) => {
                    result.status = Status::Failed;
                    result.message = Some(message);
                    result.daemon_log = Some(world.target.log_text());
                    result.events = events.iter().filter_map(|e| serde_json::to_value(e).ok()).collect();
                }
            }
            world.teardown().await;
        }
    }
    env.blocks.give_back(block);
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

async fn setup(case: &Case, env: &Env<'_>, block: Block) -> Result<World> {
    let mut sessions = BTreeMap::new();
    for s in &case.sessions {
        let x = Xvfb::start(s.screen.width, s.screen.height).with_context(|| format!("starting session {}", s.id))?;
        let pattern = s.pattern.to_driver();
        x.draw(pattern)?;
        let probe = InputProbe::install(&x.display())?;
        let id = x.display_number().to_string();
        sessions.insert(s.id.clone(), Session { x: Some(x), probe: Some(probe), pattern, id });
    }
    let ca = TestCa::new(time::OffsetDateTime::now_utc())?;
    let ssl_dir = tempfile::Builder::new().prefix("shadowsim-ssl-").tempdir()?;
    let ssl_path = ssl_dir.path().join("shadowingssl");
    write_tls(&ca, &ssl_path, case.daemon.tls)?;
    let options = DaemonOptions {
        backend: match case.daemon.backend {
            Backend::Native => "native".into(),
            Backend::External => "external".into(),
        },
        port_range: block.real.to_string(),
        fqdn: FQDN.into(),
        connect_grace: case.daemon.connect_grace.map(|d| d.as_std()).unwrap_or(Duration::from_secs(60)),
        registry: case.daemon.registry.entries().into_iter().map(|(n, v)| (n.as_str().to_string(), v)).collect(),
        ssl_dir: Some(ssl_path),
        ..Default::default()
    };
    let target = env.launcher.launch(options).await.context("starting shadowd")?;
    let director = Director::new(&target.api());
    let (recorder, recorder_task) = Recorder::start(&director).await?;
    Ok(World {
        target,
        director,
        recorder,
        recorder_task,
        sessions,
        requests: BTreeMap::new(),
        viewers: BTreeMap::new(),
        hogs: BTreeMap::new(),
        vars: case.vars.clone(),
        block,
        ca,
        ssl_dir,
        shots: Vec::new(),
        undo: Vec::new(),
        console: None,
    })
}

struct StepRunner<'a> {
    case: &'a Case,
    deadline: Instant,
    results: Vec<StepResult>,
    /// Set by the first step that stops the case; the rest are not run.
    halted: Option<Halt>,
}

/// Why a case stopped before its last step.
enum Halt {
    /// A step failed: the case fails with this message.
    Failed(String),
    /// A `require` step's command failed: the case is skipped with this reason.
    Unmet(String),
}

impl StepRunner<'_> {
    /// Runs `nodes` (numbered under `prefix`), with loop variables `loops`.
    fn run_all<'b>(
        &'b mut self,
        w: &'b mut World,
        nodes: &'b [StepNode],
        prefix: &'b str,
        loops: &'b BTreeMap<String, String>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'b>> {
        Box::pin(async move {
            for (i, node) in nodes.iter().enumerate() {
                let number = if prefix.is_empty() { format!("{}", i + 1) } else { format!("{prefix}.{}", i + 1) };
                if self.halted.is_some() {
                    self.skip(node, &number);
                    continue;
                }
                if let Step::Repeat(r) = &node.step {
                    for n in 1..=r.times {
                        let mut inner = loops.clone();
                        inner.insert(r.var.clone(), n.to_string());
                        let p = format!("{number}.{n}");
                        self.run_all(w, &r.steps, &p, &inner).await;
                    }
                    continue;
                }
                self.run_one(w, node, &number, loops).await;
            }
        })
    }

    fn skip(&mut self, node: &StepNode, number: &str) {
        self.results.push(StepResult {
            index: self.results.len() + 1,
            line: node.loc.line as usize,
            kind: node.kind().to_string(),
            label: node.label(number),
            status: Status::Skipped,
            duration_ms: 0,
            message: Some(
                match self.halted {
                    Some(Halt::Unmet(_)) => "not run: a precondition is not met",
                    _ => "not run: an earlier step failed",
                }
                .into(),
            ),
            screenshots: vec![],
        });
    }

    async fn run_one(&mut self, w: &mut World, node: &StepNode, number: &str, loops: &BTreeMap<String, String>) {
        let started = Instant::now();
        let label = node.label(number);
        let outcome = async {
            let step = fill(w, node, loops)?;
            if let Some(after) = node.after {
                tokio::time::sleep(after.as_std()).await;
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            let limit = node.timeout.map(|t| t.as_std().min(left)).unwrap_or(left);
            tokio::time::timeout(limit, steps::run(w, &step)).await.map_err(|_| {
                if limit == left {
                    anyhow!("the case ran out of time ({:?})", self.case.timeout.as_std())
                } else {
                    anyhow!("the step took longer than its timeout {limit:?}")
                }
            })?
        }
        .await;
        let message = outcome.as_ref().err().map(|e| format!("{e:#}"));
        let unmet = outcome.as_ref().err().is_some_and(|e| e.downcast_ref::<steps::system::Unmet>().is_some());
        let status = match &message {
            None => Status::Passed,
            Some(m) if unmet => {
                self.halted = Some(Halt::Unmet(format!("{}:{}: {m}", self.case.path.display(), node.loc.line)));
                Status::Skipped
            }
            Some(m) => {
                let at = format!("{}:{}", self.case.path.display(), node.loc.line);
                self.halted = Some(Halt::Failed(format!("{at}: {label} failed: {m}")));
                Status::Failed
            }
        };
        self.results.push(StepResult {
            index: self.results.len() + 1,
            line: node.loc.line as usize,
            kind: node.kind().to_string(),
            label,
            status,
            duration_ms: started.elapsed().as_millis() as u64,
            message,
            screenshots: std::mem::take(&mut w.shots),
        });
    }
}

/// The step with `${i}`, captures and `${session:ID}` filled in.
fn fill(w: &World, node: &StepNode, loops: &BTreeMap<String, String>) -> Result<Step> {
    let mut step = node.step.clone();
    let lookup = |r: &VarRef<'_>| match r {
        VarRef::Var(name) => loops.get(*name).or_else(|| w.vars.get(*name)).cloned(),
        VarRef::Session(name) => w.sessions.get(*name).map(|s| s.id.clone()),
    };
    for text in step.texts_mut() {
        *text = interpolate(text, lookup).map_err(|e| anyhow!(e))?;
    }
    Ok(step)
}
