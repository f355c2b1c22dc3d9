//! Writes the file reports of a run into one directory, for CI to collect
//! as artifacts (`junit.xml` as the test report, the rest to browse).

use super::model::RunResult;
use super::{html, json, junit_xml};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Writes `junit.xml`, `result.json` and `report.html` into `dir` (created
/// if missing; existing reports are replaced) and returns their paths.
pub fn write_all(run: &RunResult, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating report directory {}", dir.display()))?;
    let files = [("junit.xml", junit_xml(run)), ("result.json", json(run)), ("report.html", html(run))];
    let mut paths = Vec::with_capacity(files.len());
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn writes_the_three_reports_into_a_new_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out/reports");
        let run = fixture::run();
        let paths = write_all(&run, &dir).unwrap();
        let names: Vec<_> = paths.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["junit.xml", "result.json", "report.html"]);
        assert!(paths.iter().all(|p| p.parent() == Some(dir.as_path())));
        assert_eq!(std::fs::read_to_string(&paths[0]).unwrap(), junit_xml(&run));
        assert_eq!(std::fs::read_to_string(&paths[1]).unwrap(), json(&run));
        assert_eq!(std::fs::read_to_string(&paths[2]).unwrap(), html(&run));
    }

    #[test]
    fn reports_an_unwritable_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let err = write_all(&fixture::run(), &file.join("sub")).unwrap_err();
        assert!(format!("{err:#}").contains("creating report directory"), "{err:#}");
    }
}
