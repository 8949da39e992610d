//! The live view of `kit top` (ratatui over crossterm): a table of every
//! instance × endpoint, refreshed every `--interval` over a sliding
//! `--window`, sortable from the keyboard, outliers in red.

use std::io::Stdout;
use std::process::ExitCode;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::ExecutableCommand;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row as TableRow, Table};
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::top::{cells, sort, SortBy, TopArgs, HEADER};
use crate::watch::Watch;
use crate::Failure;

/// Puts the terminal back however the view ends.
struct Screen(Terminal<CrosstermBackend<Stdout>>);

impl Screen {
    fn open() -> Result<Screen, Failure> {
        let fail = |e: std::io::Error| {
            Failure::new(format!(
                "cannot use the terminal ({e}); for scripts use kit top --once [--json]"
            ))
        };
        enable_raw_mode().map_err(fail)?;
        let mut out = std::io::stdout();
        out.execute(EnterAlternateScreen).map_err(fail)?;
        Terminal::new(CrosstermBackend::new(out))
            .map(Screen)
            .map_err(fail)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = self.0.backend_mut().execute(LeaveAlternateScreen);
        let _ = self.0.show_cursor();
    }
}

pub async fn run(mut watch: Watch, args: &TopArgs) -> Result<ExitCode, Failure> {
    let mut screen = Screen::open()?;
    let (keys_tx, mut keys) = mpsc::unbounded_channel();
    // crossterm's reads block: a thread of their own.
    std::thread::spawn(move || loop {
        match event::read() {
            Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => {
                let quit =
                    k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                let key = if quit { KeyCode::Char('q') } else { k.code };
                if keys_tx.send(key).is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    });
    let mut by = args.sort;
    let mut ticker = tokio::time::interval(args.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                watch.scrape().await;
                watch.trim(args.window);
            }
            key = keys.recv() => match key {
                Some(KeyCode::Char('q')) | Some(KeyCode::Esc) | None => break,
                Some(KeyCode::Char('n')) => by = SortBy::Name,
                Some(KeyCode::Char('r')) => by = SortBy::Rate,
                Some(KeyCode::Char('e')) => by = SortBy::Errors,
                Some(KeyCode::Char('p')) => by = SortBy::P99,
                Some(_) => continue,
            },
        }
        draw(&mut screen, &watch, by, args)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn draw(screen: &mut Screen, watch: &Watch, by: SortBy, args: &TopArgs) -> Result<(), Failure> {
    let mut rows = watch.rows();
    sort(&mut rows, by);
    let errors: Vec<String> = watch
        .members
        .iter()
        .filter_map(|m| m.error.clone())
        .collect();
    let table_rows: Vec<Vec<String>> = rows.iter().map(cells).collect();
    let mut widths: Vec<u16> = HEADER.iter().map(|h| h.len() as u16).collect();
    for r in &table_rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count() as u16);
        }
    }
    let title = format!(
        " kit top: {} instances, window {}, sorted by {} (n name, r rate, e errors, p p99, q quit) ",
        watch.members.len(),
        humantime::format_duration(args.window),
        format!("{by:?}").to_lowercase()
    );
    let body: Vec<TableRow> = rows
        .iter()
        .zip(table_rows)
        .map(|(r, c)| {
            let row = TableRow::new(c);
            if r.outliers.is_empty() {
                row
            } else {
                row.style(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD))
            }
        })
        .collect();
    let table = Table::new(body, widths.into_iter().map(Constraint::Length))
        .header(TableRow::new(HEADER).style(Style::default().add_modifier(Modifier::REVERSED)))
        .block(Block::bordered().title(title));
    let notes: Vec<Line> = errors.into_iter().map(Line::from).collect();
    let note_height = notes.len() as u16;
    screen
        .0
        .draw(|frame| {
            let [top, bottom] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(note_height)])
                    .areas(frame.area());
            frame.render_widget(table, top);
            frame.render_widget(
                Paragraph::new(notes).style(Style::default().fg(Color::Yellow)),
                bottom,
            );
        })
        .map_err(|e| Failure::new(format!("cannot draw: {e}")))?;
    Ok(())
}
