//! LibreOffice Calc opening a CSV as a person would (headless, Debian's
//! `libreoffice-calc-nogui`), saved as a flat OpenDocument spreadsheet (`.fods`, XML) whose
//! cells are read back with the types Calc gave them. No skipping: without LibreOffice the
//! caller fails, saying what to install (CI installs it in `.ci/run`).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// One cell as LibreOffice typed it: `string`, `float`, `date` (or empty), its value
/// (`office:value` / `office:date-value`) and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub kind: String,
    pub value: String,
    pub text: String,
}

fn attribute(tag: &str, name: &str) -> String {
    let key = format!("{name}=\"");
    tag.find(&key)
        .and_then(|i| tag[i + key.len()..].split('"').next())
        .map(unescape)
        .unwrap_or_default()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The text of a cell's paragraphs, markup dropped (`<text:s/>` is a space).
fn cell_text(body: &str) -> String {
    let body = body.replace("<text:s/>", " ");
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    unescape(text.trim())
}

/// The rows of the first sheet of a `.fods` file, trailing empty cells dropped.
fn rows(fods: &str) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for row in fods.split("<table:table-row").skip(1) {
        let row = row.split("</table:table-row>").next().unwrap_or("");
        let mut cells = Vec::new();
        for cell in row.split("<table:table-cell").skip(1) {
            let (tag, body) = cell.split_once('>').unwrap_or((cell, ""));
            let body = if tag.ends_with('/') {
                ""
            } else {
                body.split("</table:table-cell>").next().unwrap_or("")
            };
            let repeated: usize = attribute(tag, "table:number-columns-repeated")
                .parse()
                .unwrap_or(1);
            let value = match attribute(tag, "office:value") {
                v if v.is_empty() => attribute(tag, "office:date-value"),
                v => v,
            };
            let one = Cell {
                kind: attribute(tag, "office:value-type"),
                value,
                text: cell_text(body),
            };
            cells.extend(std::iter::repeat_n(one, repeated.min(64)));
        }
        while cells.last().is_some_and(|c| c.kind.is_empty()) {
            cells.pop();
        }
        if !cells.is_empty() {
            rows.push(cells);
        }
    }
    rows
}

fn soffice() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("soffice"))
                .find(|p| p.is_file())
        })
        .expect(
            "LibreOffice is needed to open the CSVs as an accountant would: \
             apt-get install libreoffice-calc-nogui (CI installs it in .ci/run)",
        )
}

/// Opens `csv` in LibreOffice Calc with the CSV import options of `locale` (`59` is `;`,
/// `44` is `,`; `76` is UTF-8; `1036` French, `1033` English (US); "detect special
/// numbers" on, as when a person opens the file) and returns its rows.
pub async fn open_in_calc(csv: &Path, separator: u8, locale: u32) -> Vec<Vec<Cell>> {
    let dir = csv.parent().unwrap().join(format!("calc-{locale}"));
    let profile = format!("file://{}", dir.join("profile").display());
    let filter = format!("CSV:{separator},34,76,1,,{locale},false,true,false,false,false");
    let run = tokio::process::Command::new(soffice())
        .arg("--headless")
        .arg("--norestore")
        .arg(format!("-env:UserInstallation={profile}"))
        .arg(format!("--infilter={filter}"))
        .args(["--convert-to", "fods", "--outdir"])
        .arg(&dir)
        .arg(csv)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("LibreOffice took more than 3 minutes")
        .expect("LibreOffice starts");
    let fods = dir.join(csv.with_extension("fods").file_name().unwrap());
    let text = std::fs::read_to_string(&fods).unwrap_or_else(|e| {
        panic!(
            "LibreOffice wrote no {}: {e}\nstdout: {}\nstderr: {}",
            fods.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    rows(&text)
}
