//! Every shell command the book shows with its output (a fenced block whose lines start with
//! `$ `) is either run here and its output compared with what the book shows, or marked in the
//! chapter as not run by the tests, with the reason, in the paragraph just before the block.
//!
//! Run: `cargo run --release -- ARGS` lines are run as the `nanobert` binary with ARGS. The output
//! shown must be what it prints (stdout and stderr together), after two substitutions: the home
//! directory prints as `~`, and `/tmp/nb/` is a fresh temporary directory. Commands on the real
//! all-MiniLM-L6-v2 fetch it on first use, like the minilm tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One `$ ` command of a chapter and the output shown under it.
struct Shown {
    place: String,
    command: String,
    output: Vec<String>,
    /// The paragraph before the block says why it is not run.
    not_run: bool,
}

fn chapters() -> Vec<PathBuf> {
    let docs = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("docs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&docs).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "md"));
    files.sort();
    files
}

fn shown_commands(path: &Path) -> Vec<Shown> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with("```") {
            i += 1;
            continue;
        }
        // The paragraph just before the block.
        let end = lines[..i].iter().rposition(|l| !l.trim().is_empty()).map_or(0, |e| e + 1);
        let begin = lines[..end].iter().rposition(|l| l.trim().is_empty()).map_or(0, |b| b + 1);
        let before = lines[begin..end].join(" ");
        let start = i;
        i += 1;
        let mut block = Vec::new();
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            block.push(lines[i]);
            i += 1;
        }
        i += 1;
        let not_run = before.to_lowercase().contains("not run by the tests");
        let mut j = 0;
        while j < block.len() {
            if let Some(cmd) = block[j].strip_prefix("$ ") {
                let mut output = Vec::new();
                j += 1;
                while j < block.len() && !block[j].starts_with("$ ") {
                    output.push(block[j].to_string());
                    j += 1;
                }
                let place = format!("{}:{}", path.file_name().unwrap().to_string_lossy(), start + 1);
                out.push(Shown { place, command: cmd.to_string(), output, not_run });
            } else {
                j += 1;
            }
        }
    }
    out
}

/// Splits a shell line into words: double quotes group, nothing else is special.
fn words(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[test]
fn every_shown_command_is_run_or_marked() {
    let tmp = tempfile::tempdir().unwrap();
    let home = std::env::var("HOME").unwrap_or_default();
    let mut run = 0;
    for chapter in chapters() {
        for shown in shown_commands(&chapter) {
            if shown.not_run {
                continue;
            }
            let Some(args) = shown.command.strip_prefix("cargo run --release -- ") else {
                panic!(
                    "{}: `$ {}` is neither a `cargo run --release -- ...` command (run by this test) \
                     nor marked: say why it is not run (\"not run by the tests: ...\") in the paragraph before the block",
                    shown.place, shown.command
                );
            };
            let tmp_dir = format!("{}/", tmp.path().display());
            let args: Vec<String> = words(args).into_iter().map(|w| w.replace("/tmp/nb/", &tmp_dir)).collect();
            let result = Command::new(env!("CARGO_BIN_EXE_nanobert"))
                .args(&args)
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
                .output()
                .unwrap();
            let mut printed = String::from_utf8_lossy(&result.stdout).to_string();
            printed.push_str(&String::from_utf8_lossy(&result.stderr));
            let printed = printed.replace(&tmp_dir, "/tmp/nb/");
            let printed = if home.is_empty() { printed } else { printed.replace(&home, "~") };
            let got: Vec<&str> = printed.lines().collect();
            // A shown `...` line stands for lines left out: compare what comes before and after it.
            let want = &shown.output;
            match want.iter().position(|l| l.trim() == "...") {
                Some(cut) => {
                    let tail = &want[cut + 1..];
                    assert!(
                        got.len() >= cut + tail.len(),
                        "{}: `$ {}` printed {} lines:\n{printed}",
                        shown.place,
                        shown.command,
                        got.len()
                    );
                    assert_eq!(&got[..cut], &want[..cut], "{}: `$ {}`, first lines", shown.place, shown.command);
                    assert_eq!(
                        &got[got.len() - tail.len()..],
                        tail,
                        "{}: `$ {}`, last lines",
                        shown.place,
                        shown.command
                    );
                }
                None => assert_eq!(got, *want, "{}: `$ {}`", shown.place, shown.command),
            }
            run += 1;
        }
    }
    println!("ran {run} commands shown in the book");
    assert!(run >= 5, "expected the book's nanobert commands to be found, ran {run}");
}

#[test]
fn words_split_like_a_shell() {
    assert_eq!(words(r#"embed --json "a b" c"#), ["embed", "--json", "a b", "c"]);
    assert_eq!(words(r#"x """#), ["x", ""]);
}
