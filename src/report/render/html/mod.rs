//! The HTML page for people: one self-contained file (inline CSS and SVG, no script, no
//! external asset) in the report's language.
//!
//! Built with `maud`: the page is Rust code checked at compile time, and every value put
//! in it is escaped by the template, so a token, an order reference or a LigdiCash reason
//! holding markup comes out as text. The page is a list of sections ([`SECTIONS`]); a new
//! figure gets its own section function and one line there.

mod cases;
mod money_out;
mod sections;
mod to_handle;

use super::super::figures::Summary;
use super::super::i18n::{self, Language, Words};
use maud::{DOCTYPE, Markup, PreEscaped, html as page};

/// What every section renders from: the figures and the language to say them in.
pub struct Page<'a> {
    pub summary: &'a Summary,
    pub language: Language,
    pub words: &'static Words,
}

/// A section of the page.
pub type Section = fn(&Page<'_>) -> Markup;

/// The sections, top to bottom.
pub const SECTIONS: [Section; 9] = [
    sections::headline,
    to_handle::to_handle,
    sections::reconciliation,
    sections::by_status,
    sections::discrepancies,
    cases::cases,
    sections::completed,
    money_out::money_out,
    sections::health,
];

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933;max-width:1100px}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}\
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d9e2ec;border-radius:8px;padding:1rem 1.25rem;min-width:180px}\
.card b{display:block;font-size:1.6rem}.card small{display:block;color:#52606d}.warn b{color:#b44d12}\
.partial{background:#fff4e6;border:1px solid #f08c00;border-radius:8px;padding:.6rem 1rem;font-weight:600}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e4e7eb;padding:.35rem .5rem;text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.id{white-space:nowrap}\
tfoot td{font-weight:700;border-top:2px solid #9aa5b1}.muted{color:#7b8794}summary{cursor:pointer;font-size:1.15rem;font-weight:700;margin-top:2rem}";

/// For the accountant who prints the page: collapsed lists printed open (a closed
/// `<details>` hides its content in a box only `::details-content` reaches; a browser
/// without it drops this one rule and prints the list closed, as on screen), black on white
/// across the whole sheet, table headers repeated on each page, no row or card cut in two,
/// no title left alone at the foot of a page.
const PRINT_STYLE: &str = "@media print{\
body{margin:0;max-width:none;color:#000;font-size:10pt}\
details::details-content{content-visibility:visible;display:contents}\
summary{list-style:none;cursor:auto}summary::-webkit-details-marker{display:none}\
.muted,.card small{color:#333}.card,tr,svg{break-inside:avoid}h1,h2,summary{break-after:avoid}\
thead{display:table-header-group}.partial{background:none}}";

/// The whole page for `summary`, in `language`.
pub fn html(summary: &Summary, language: Language) -> String {
    let p = Page {
        summary,
        language,
        words: i18n::words(language),
    };
    let s = summary;
    let w = p.words;
    let day = i18n::date(s.date, language);
    let when = |t: super::super::figures::LocalTime| i18n::date_time(&t.local(), language);
    page! {
        (DOCTYPE)
        html lang=(language.tag()) {
            head {
                meta charset="utf-8";
                title { (w.title) " " (day) }
                style { (PreEscaped(STYLE)) (PreEscaped(PRINT_STYLE)) }
            }
            body {
                h1 { (w.title) " — " time datetime=(s.date.format("%Y-%m-%d").to_string()) { (day) } }
                @if s.partial {
                    p.partial { (w.partial) " " (w.generated_at) " " (when(s.generated_at)) }
                }
                p.muted {
                    (s.time_zone.name()) ", " (w.day_from) " " (when(s.window_start)) " "
                    (w.day_to) " " (when(s.window_end)) ". "
                    (w.generated_at) " " (when(s.generated_at)) "."
                }
                @for section in SECTIONS {
                    (section(&p))
                }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests;
