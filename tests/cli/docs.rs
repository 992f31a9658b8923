//! `completions` and `man`: what they print parses, and covers every command
//! of interface.md (and these two).

use crate::util::{bin, text};
use std::process::{Command, Output, Stdio};

/// Every command of interface.md, `report`, and the two that document them.
const COMMANDS: [&str; 9] = [
    "demo",
    "extract",
    "verify",
    "simulate",
    "audit",
    "serve",
    "report",
    "completions",
    "man",
];

fn run(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("the binary runs");
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    out
}

/// Runs `program args`, feeding `input`, and returns its output.
fn pipe(program: &str, args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_bash_script_parses_and_completes_every_command() {
    let script = run(&["completions", "bash"]).stdout;
    let check = pipe("bash", &["-n"], &script);
    assert!(check.status.success(), "bash -n: {}", text(&check.stderr));
    // Sourced, it registers a completion function for the program; asked
    // for the first word, that function lists every command.
    let session = format!(
        "{}\nf=$(complete -p genesys-compliance | sed 's/.*-F \\([^ ]*\\).*/\\1/')\n\
         COMP_WORDS=(genesys-compliance ''); COMP_CWORD=1; COMP_LINE='genesys-compliance '; \
         COMP_POINT=${{#COMP_LINE}}; \"$f\" genesys-compliance '' genesys-compliance; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        text(&script)
    );
    let words = pipe("bash", &[], session.as_bytes());
    assert!(words.status.success(), "{}", text(&words.stderr));
    let words = text(&words.stdout);
    for command in COMMANDS {
        assert!(
            words.lines().any(|w| w == command),
            "{command} not completed: {words}"
        );
    }
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let zsh = text(&run(&["completions", "zsh"]).stdout);
    assert!(zsh.starts_with("#compdef genesys-compliance"), "{zsh}");
    let fish = text(&run(&["completions", "fish"]).stdout);
    assert!(fish.contains("complete -c genesys-compliance"), "{fish}");
    for command in COMMANDS {
        assert!(zsh.contains(&format!("'{command}:")), "zsh lacks {command}");
        assert!(
            fish.contains(&format!("-a \"{command}\"")),
            "fish lacks {command}"
        );
    }
}

#[test]
fn an_unknown_shell_is_refused_naming_the_allowed_ones() {
    let out = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("tcsh") && err.contains("bash") && err.contains("zsh"),
        "{err}"
    );
}

#[test]
fn the_man_page_has_a_title_and_every_command() {
    let page = text(&run(&["man"]).stdout);
    assert!(page.contains(".TH genesys-compliance 1"), "{page}");
    let commands = page
        .split(".SH SUBCOMMANDS")
        .nth(1)
        .expect("a SUBCOMMANDS section");
    for command in COMMANDS {
        assert!(
            commands.contains(&format!(
                "genesys\\-compliance\\-{}(1)",
                command.replace('-', "\\-")
            )),
            "{command} is not in SUBCOMMANDS"
        );
    }
    // groff, where installed, reads it without a warning.
    if Command::new("groff").arg("--version").output().is_ok() {
        let render = pipe("groff", &["-man", "-Tutf8", "-ww", "-z"], page.as_bytes());
        assert!(
            render.status.success() && render.stderr.is_empty(),
            "{}",
            text(&render.stderr)
        );
    }
}

#[test]
fn man_dir_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    run(&["man", "--dir", dir.path().to_str().unwrap()]);
    let mut pages = vec!["genesys-compliance.1".to_string()];
    pages.extend(COMMANDS.map(|c| format!("genesys-compliance-{c}.1")));
    pages.push("genesys-compliance-audit-verify.1".into());
    for page in pages {
        let text = std::fs::read_to_string(dir.path().join(&page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH "), "{page} has no title");
    }
    let missing = dir.path().join("nope");
    let out = bin().args(["man", "--dir"]).arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--dir"), "{}", text(&out.stderr));
}

#[test]
fn deploy_install_puts_pages_completions_and_the_unit_in_place() {
    let root = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/install.sh");
    let out = Command::new("sh")
        .args([
            script,
            env!("CARGO_BIN_EXE_genesys-compliance"),
            "--service",
        ])
        .env("DESTDIR", root.path())
        .env("PREFIX", "/usr")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for file in [
        "usr/bin/genesys-compliance",
        "usr/share/man/man1/genesys-compliance.1",
        "usr/share/man/man1/genesys-compliance-extract.1",
        "usr/share/bash-completion/completions/genesys-compliance",
        "usr/share/zsh/site-functions/_genesys-compliance",
        "usr/share/fish/vendor_completions.d/genesys-compliance.fish",
        "etc/systemd/system/genesys-compliance.service",
        "etc/genesys-compliance/config.toml",
    ] {
        let len = std::fs::metadata(root.path().join(file)).map(|m| m.len());
        assert!(len.as_ref().is_ok_and(|&n| n > 0), "{file}: {len:?}");
    }
}
