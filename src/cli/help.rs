//! The command tree as clap builds it from [`super::Cli`], with the global options hidden
//! from the help of the commands they do not apply to.
//!
//! `--config` and `--database` are global so that they may stand before or after the
//! command (`--config X run`, `list --database Y`), and clap then lists them under every
//! command. `sandbox`, `demo` and `events verify-signature` read neither, so their help
//! must not offer them. clap has no per-command exception to a global option; once the tree
//! is built (the globals copied into each command), they are marked hidden there.

use super::Cli;
use clap::CommandFactory;

/// The options that say which configuration and database to use.
const DATABASE_OPTIONS: [&str; 2] = ["config", "database"];

/// Commands (as paths from the top) that use neither the configuration nor the database.
const WITHOUT_DATABASE: [&[&str]; 3] = [&["sandbox"], &["demo"], &["events", "verify-signature"]];

/// The command tree to parse the process arguments with.
pub(super) fn command() -> clap::Command {
    let mut tree = Cli::command();
    // Copies the global options into every command, so they can be hidden there.
    tree.build();
    WITHOUT_DATABASE
        .iter()
        .fold(tree, |tree, path| hide_database_options(tree, path))
}

/// `tree` with the database options of the command at `path` hidden from its help.
fn hide_database_options(tree: clap::Command, path: &[&str]) -> clap::Command {
    match path.split_first() {
        None => tree.mut_args(|arg| {
            let id = arg.get_id().as_str();
            if DATABASE_OPTIONS.contains(&id) {
                arg.hide(true)
            } else {
                arg
            }
        }),
        Some((name, rest)) => tree.mut_subcommand(name, |sub| hide_database_options(sub, rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command of the tree with its path, depth first.
    fn commands(
        cmd: &clap::Command,
        path: Vec<String>,
        out: &mut Vec<(Vec<String>, clap::Command)>,
    ) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            let mut p = path.clone();
            p.push(sub.get_name().to_owned());
            commands(sub, p, out);
        }
    }

    fn all() -> Vec<(Vec<String>, clap::Command)> {
        let mut out = Vec::new();
        commands(&command(), Vec::new(), &mut out);
        out
    }

    #[test]
    fn every_option_and_argument_has_help_text() {
        let mut missing = Vec::new();
        for (path, cmd) in all() {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{} {id}", path.join(" ")));
                }
            }
        }
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }

    #[test]
    fn the_database_options_show_only_where_they_apply() {
        let mut checked = 0;
        for (path, cmd) in all() {
            // The top, a group, and clap's own `help` commands take no options of theirs.
            if path.is_empty() || path == ["events"] || path.iter().any(|n| n == "help") {
                continue;
            }
            let applies = !WITHOUT_DATABASE.iter().any(|p| *p == path.as_slice());
            for id in DATABASE_OPTIONS {
                let arg = cmd.get_arguments().find(|a| a.get_id() == id);
                let shown = arg.is_some_and(|a| !a.is_hide_set());
                assert_eq!(shown, applies, "{path:?} --{id}");
            }
            checked += 1;
        }
        assert!(checked >= 14, "every command was looked at: {checked}");
    }
}
