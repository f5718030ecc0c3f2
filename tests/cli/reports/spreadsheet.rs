//! The CSVs opened as an accountant opens them: the real binary writes a day's French and
//! English CSV, LibreOffice Calc (headless, Debian's `libreoffice-calc-nogui`) imports each
//! as a French and as an English user's spreadsheet would, and saves it as a flat
//! OpenDocument spreadsheet (`.fods`, XML) whose cells are read back here with their types:
//! each value in its own column, amounts as numbers, French dates as dates, accents intact.
//!
//! There is no skipping: without LibreOffice the test fails, saying what to install
//! (CI installs it in `.ci/run`).

use super::calc::{Cell, open_in_calc};
use super::{ms, read_json};
use crate::helpers::*;

/// `(token, kind, order, status, reason, expected_amount as the shop wrote it, amount)`.
type Fixture<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a dyn rusqlite::ToSql,
    i64,
);

/// Inserts the day's rows (2025-12-02, UTC): a mismatch and a completion in, a withdrawal
/// LigdiCash sent short and a payout out, and an invoice whose amount the shop wrote badly.
fn insert_day(env: &TestEnv) {
    let at = ms("2025-12-02T10:00:00Z");
    let c = env.shop_connection();
    let insert = "INSERT INTO payments (token, kind, transaction_id, status, status_reason, \
        expected_amount, amount, operator_name, created_at, updated_at, resolved_at, next_poll_at) \
        VALUES (?1, ?2, ?3, ?4, nullif(?5, ''), ?6, ?7, ?8, ?9, ?9, ?10, ?11)";
    let rows: [Fixture; 5] = [
        (
            "tok-short",
            "invoice",
            "ORD-1",
            "mismatch",
            "confirmed amount 4000 XOF differs from expected 5000 XOF",
            &5000,
            4000,
        ),
        (
            "tok-paid",
            "invoice",
            "ORD-2; urgent",
            "completed",
            "",
            &16000,
            16000,
        ),
        (
            "tok-refund",
            "withdrawal",
            "REMB-1",
            "mismatch",
            "",
            &3000,
            2700,
        ),
        (
            "tok-seller",
            "payout",
            "VERS-1",
            "completed",
            "",
            &2500,
            2500,
        ),
        ("tok-typed", "invoice", "ORD-3", "pending", "", &"5 000", 0),
    ];
    for (token, kind, order, status, reason, expected, amount) in rows {
        let pending = status == "pending";
        let resolved = (!pending).then_some(at + 60_000);
        let next_poll = pending.then_some(at);
        let amount = (!pending).then_some(amount);
        let operator = (kind == "invoice").then_some("MOOV AFRICA BURKINA");
        c.execute(
            insert,
            rusqlite::params![
                token, kind, order, status, reason, expected, amount, operator, at, resolved,
                next_poll
            ],
        )
        .unwrap();
    }
}

/// The row whose token is `token`, from the third column.
fn row<'a>(rows: &'a [Vec<Cell>], token: &str) -> &'a [Cell] {
    rows.iter()
        .find(|r| r.get(2).is_some_and(|c| c.text == token))
        .unwrap_or_else(|| panic!("no row for {token}: {rows:#?}"))
}

fn number(cell: &Cell) -> i64 {
    assert_eq!(cell.kind, "float", "not a number: {cell:?}");
    cell.value.parse().unwrap()
}

fn texts(row: &[Cell]) -> Vec<&str> {
    row.iter().map(|c| c.text.as_str()).collect()
}

#[tokio::test]
async fn both_csvs_open_in_libreoffice_one_value_per_cell_amounts_as_numbers() {
    let mut env = TestEnv::start().await;
    env.config.report.time_zone = "UTC".into();
    env.write_config();
    assert_ok(&env.run(&["migrate"]).await);
    insert_day(&env);
    let day = "2025-12-02";
    let write = |language: &'static str| {
        let out = env.dir.path().join(language);
        let env = &env;
        async move {
            let args = [
                "report",
                "--date",
                day,
                "--format",
                "csv,json",
                "--language",
                language,
            ];
            let out_arg = out.to_str().unwrap().to_owned();
            assert_ok(&env.run(&[&args[..], &["--out", &out_arg]].concat()).await);
            out.join(format!("{day}.csv"))
        }
    };
    let (fr, en) = (write("fr").await, write("en").await);
    let json = read_json(fr.parent().unwrap(), &format!("{day}.json"));
    assert_eq!(json["money_out"]["sent"]["xof"], 2500 + 2700);

    let sheet = open_in_calc(&fr, b';', 1036).await;
    assert_eq!(
        texts(&sheet[0]),
        [
            "Sens",
            "Type",
            "Jeton",
            "Commande",
            "Référence LigdiCash",
            "Statut",
            "Opérateur",
            "Attendu (XOF)",
            "Payé ou envoyé (XOF)",
            "Créé le",
            "Résolu le",
            "Motif"
        ],
        "the header, one title per column, accents intact"
    );
    assert_eq!(sheet.len(), 6, "a header and five payments: {sheet:#?}");
    assert!(
        sheet.iter().all(|r| r.len() <= 12),
        "no value spilled into a 13th column"
    );
    let short = row(&sheet, "tok-short");
    assert_eq!(
        texts(&short[..7]),
        [
            "entrée",
            "facture",
            "tok-short",
            "ORD-1",
            "",
            "écart",
            "MOOV AFRICA BURKINA"
        ]
    );
    assert_eq!((number(&short[7]), number(&short[8])), (5000, 4000));
    assert_eq!(
        (short[9].kind.as_str(), short[9].value.as_str()),
        ("date", "2025-12-02T10:00:00"),
        "a French date, read as the 2nd of December"
    );
    assert_eq!(short[10].value, "2025-12-02T10:01:00");
    assert_eq!(
        short[11].text,
        "montant confirmé 4\u{202f}000\u{a0}XOF différent du montant attendu 5\u{202f}000\u{a0}XOF"
    );
    assert_eq!(
        row(&sheet, "tok-paid")[3].text,
        "ORD-2; urgent",
        "a quoted ; stays in its cell"
    );
    let refund = row(&sheet, "tok-refund");
    assert_eq!(texts(&refund[..2]), ["sortie", "retrait"]);
    assert_eq!((number(&refund[7]), number(&refund[8])), (3000, 2700));
    assert_eq!(row(&sheet, "tok-seller")[1].text, "versement");
    let typed = row(&sheet, "tok-typed");
    assert_eq!(
        (typed[5].text.as_str(), typed[7].kind.as_str()),
        ("en attente", "")
    );
    assert_eq!(
        typed[11].text,
        "montant attendu écrit «\u{a0}5 000\u{a0}», pas un nombre entier de XOF"
    );

    let sheet = open_in_calc(&en, b',', 1033).await;
    assert_eq!(
        texts(&sheet[0]),
        [
            "direction",
            "kind",
            "token",
            "transaction_id",
            "request_id",
            "status",
            "operator",
            "expected_xof",
            "paid_xof",
            "created_at",
            "resolved_at",
            "reason"
        ]
    );
    assert!(
        sheet.iter().all(|r| r.len() <= 12),
        "no value spilled into a 13th column"
    );
    let short = row(&sheet, "tok-short");
    assert_eq!(texts(&short[..2]), ["in", "invoice"]);
    assert_eq!(short[5].text, "mismatch");
    assert_eq!((number(&short[7]), number(&short[8])), (5000, 4000));
    assert_eq!(
        (short[9].kind.as_str(), short[9].value.as_str()),
        ("date", "2025-12-02T10:00:00")
    );
    assert_eq!(row(&sheet, "tok-paid")[3].text, "ORD-2; urgent");
    let refund = row(&sheet, "tok-refund");
    assert_eq!((number(&refund[7]), number(&refund[8])), (3000, 2700));
    assert_eq!(
        row(&sheet, "tok-typed")[11].text,
        "expected_amount written as \"5 000\", not a whole number of XOF"
    );
}
