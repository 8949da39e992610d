//! `kit top`'s live view in a real terminal: tmux runs it, the test reads
//! the screen with capture-pane, sorts with a key, quits with another.

use std::process::Command;
use std::time::Duration;

use kit_tests::cli::{kit_bin, Load};
use kit_tests::observe::{poll, tool, KitProcess};

/// A tmux server of this test's own (`-L`), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(width: u16, height: u16, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("kit-top-test-{}", std::process::id()),
        };
        let out = tmux
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "top",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                command,
            ])
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(tool("tmux"));
        c.args(["-L", &self.socket]).args(args);
        c
    }

    /// The screen's text; with `escapes`, with its colours.
    fn screen(&self, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-t", "top"];
        if escapes {
            args.push("-e");
        }
        let out = self.cmd(&args).output().expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        let _ = self.cmd(&["send-keys", "-t", "top", keys]).status();
    }

    fn alive(&self) -> bool {
        self.cmd(&["has-session", "-t", "top"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).output();
    }
}

/// The screen's line for `instance`'s `endpoint`, its cells split.
fn row(screen: &str, instance: &str, endpoint: &str) -> Option<Vec<String>> {
    screen.lines().find_map(|l| {
        let cells: Vec<String> = l
            .trim_matches(|c: char| c == '│' || c.is_whitespace())
            .split_whitespace()
            .map(String::from)
            .collect();
        (cells.first().map(String::as_str) == Some(instance)
            && cells.get(2).map(String::as_str) == Some(endpoint))
        .then_some(cells)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_draws_a_live_sortable_table_with_the_outlier_in_red() {
    let good = KitProcess::start("canarysvc", &[], &[]);
    let bad = KitProcess::start(
        "canarysvc",
        &[],
        &[("CANARY_FAIL_EVERY", "4"), ("CANARY_DELAY_MS", "30")],
    );
    let loads = [
        Load::start(good.addr, "/work", r#"{"n":1}"#, 40.0),
        Load::start(bad.addr, "/work", r#"{"n":1}"#, 40.0),
    ];
    let gone = format!("127.0.0.1:{}", kit_tests::registry::free_port());
    let command = format!(
        "{} top --window 2s --interval 300ms {} {} {gone}",
        kit_bin().display(),
        good.url(),
        bad.url()
    );
    let (g, b) = (good.addr.to_string(), bad.addr.to_string());
    let result = tokio::task::spawn_blocking(move || {
        let tmux = Tmux::start(150, 20, &command);
        // Both instances' work rows with traffic, the bad one marked.
        let screen = poll(
            Duration::from_secs(15),
            "kit top shows both instances with traffic",
            || {
                let s = tmux.screen(false);
                let good_row = row(&s, &g, "canary.work")?;
                let bad_row = row(&s, &b, "canary.work")?;
                let rate =
                    |r: &Vec<String>| r.get(3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
                (rate(&good_row) > 20.0
                    && rate(&bad_row) > 20.0
                    && bad_row.join(" ").contains("! p99,errors"))
                .then_some(s)
            },
            || tmux.screen(false),
        );
        assert!(
            screen.contains("kit top: 3 instances, window 2s, sorted by name"),
            "{screen}"
        );
        assert!(
            screen.contains("INSTANCE") && screen.contains("REQ/S") && screen.contains("P99"),
            "{screen}"
        );
        assert!(
            screen.contains(&format!("http://{gone}: unreachable (connection refused)")),
            "{screen}"
        );
        let bad_row = row(&screen, &b, "canary.work").unwrap_or_default();
        assert!(bad_row.contains(&"UNAVAILABLE".to_string()), "{screen}");
        // The outlier's line is red.
        let coloured = tmux.screen(true);
        let bad_line = coloured
            .lines()
            .find(|l| l.contains(&b) && l.contains("canary.work"))
            .unwrap_or_default();
        assert!(
            bad_line.contains("38;5;1m") || bad_line.contains("[31m"),
            "not red: {bad_line:?}"
        );

        // `p` sorts by p99: the slow instance comes first.
        tmux.keys("p");
        let sorted = poll(
            Duration::from_secs(10),
            "sorted by p99",
            || {
                let s = tmux.screen(false);
                let first = s.lines().nth(2).unwrap_or_default().to_string();
                (s.contains("sorted by p99") && first.contains(&b) && first.contains("canary.work"))
                    .then_some(s)
            },
            || tmux.screen(false),
        );
        // `q` quits and gives the terminal back.
        tmux.keys("q");
        poll(
            Duration::from_secs(10),
            "kit top quits on q",
            || (!tmux.alive()).then_some(()),
            || tmux.screen(false),
        );
        (screen, sorted)
    })
    .await;
    for load in loads {
        load.stop().await;
    }
    let (screen, sorted) = result.expect("the terminal test ran");
    println!("{screen}\n{sorted}");
}
