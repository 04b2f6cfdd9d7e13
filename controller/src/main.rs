//! The `fledge` binary: `fledge crds` prints the CustomResourceDefinitions and `fledge validate`
//! checks manifests before they are applied; the controller arrives with the lifecycle issue.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Fledge: progressive delivery for Kubernetes and Istio.
#[derive(Parser, Debug)]
#[command(name = "fledge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the fledge.dev CustomResourceDefinitions as YAML (pipe to `kubectl apply --server-side -f -`).
    Crds {
        /// Write one file per CRD into this folder instead (how `crds/yaml/` is regenerated).
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Check Canary, MetricTemplate and AlertProvider manifests: types, unknown fields, and every
    /// rule Fledge applies. MetricTemplates and AlertProviders referenced by a Canary must be in
    /// one of the files. Exits 1 when any file has an error.
    Validate {
        /// Manifest files (YAML, several documents each); `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Crds { out_dir: None } => {
            print!("{}", fledge_crds::generate::all_yaml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Crds { out_dir: Some(dir) } => {
            for crd in fledge_crds::generate::crds() {
                let path = dir.join(fledge_crds::generate::file_name(&crd));
                std::fs::write(&path, fledge_crds::generate::to_yaml(&crd))
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => validate(&files),
    }
}

fn validate(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut texts = Vec::new();
    for file in files {
        let text = if file.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).context("reading standard input")?
        } else {
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        };
        texts.push((file.display().to_string(), text));
    }
    // References may cross files, as they would once all are applied to one cluster.
    let all = texts.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join("\n---\n");
    let catalog = fledge_crds::manifest::catalog_of(&all);
    let mut failed = false;
    for (name, text) in &texts {
        let findings = fledge_crds::manifest::check_manifest(text, Some(&catalog));
        failed |= findings.iter().any(|f| f.problem.severity == fledge_crds::Severity::Error);
        if findings.is_empty() {
            println!("{name}: ok");
        }
        for finding in findings {
            println!("{name}: {finding}");
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
