//! The cost of reading HTML-only mail: guichet's HTML to text on hostile
//! shapes (deep nesting of each kind a stranger can send, 3 MiB each),
//! each beside html2text alone on the same bytes (what guichet did before
//! bounding it), measured in the same run. `cargo bench --bench html`;
//! BENCH_HTML_MIB sets the size (3).

use std::time::{Duration, Instant};

fn repeat_to(size: usize, open: &str, middle: &str, close: &str) -> String {
    let n = (size - middle.len()) / (open.len() + close.len());
    let mut s = String::with_capacity(size + 64);
    s.push_str("<html><body>");
    for _ in 0..n {
        s.push_str(open);
    }
    s.push_str(middle);
    for _ in 0..n {
        s.push_str(close);
    }
    s.push_str("</body></html>");
    s
}

fn flat(size: usize) -> String {
    let para = "<p>Bonjour, l'imprimante du <b>2e étage</b> est hors ligne depuis ce matin. <a href=\"https://intranet.example/aide\">Aide</a></p>\n";
    let mut s = String::with_capacity(size + para.len());
    s.push_str("<html><body>");
    while s.len() < size {
        s.push_str(para);
    }
    s.push_str("</body></html>");
    s
}

/// Seconds one conversion takes, or `None` past `limit`. Each runs in a
/// process of its own (this program again, with `--shape N --with W`),
/// killed past the limit: an abandoned conversion left spinning would
/// slow every figure after it.
fn time(shape: usize, with: &str, limit: Duration) -> Option<f64> {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--bench", "--shape", &shape.to_string(), "--with", with])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the conversion failed");
            let mut out = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
            return out.trim().parse().ok();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn guichet(html: &str) -> usize {
    guichet::inbound::html_to_text(html).len()
}

/// html2text alone, as guichet called it before.
fn html2text_alone(html: &str) -> usize {
    html2text::config::plain()
        .no_table_borders()
        .string_from_read(html.as_bytes(), 10_000)
        .map(|t| t.len())
        .unwrap_or_default()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("bench/html: run with `cargo bench --bench html`");
        return;
    }
    let mib: usize = std::env::var("BENCH_HTML_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let size = mib << 20;
    // Under guichet's limit, html2text renders it after the flattening.
    let small = guichet::inbound::html::MAX_HTML_BYTES - 512;
    let limit = Duration::from_secs(60);
    let under_divs = |size: usize| {
        let inner = flat(size - 48 * 11 - 16);
        format!("{}{inner}{}", "<div>".repeat(48), "</div>".repeat(48))
    };
    let shapes: Vec<(String, String)> = vec![
        (format!("flat, {mib} MiB"), flat(size)),
        (
            "nested div".into(),
            repeat_to(size, "<div>", "texte", "</div>"),
        ),
        (
            "nested table".into(),
            repeat_to(size, "<table><tr><td>", "texte", "</td></tr></table>"),
        ),
        (
            "nested list".into(),
            repeat_to(size, "<ul><li>", "texte", "</li></ul>"),
        ),
        (
            "nested blockquote".into(),
            repeat_to(size, "<blockquote>", "texte", "</blockquote>"),
        ),
        ("unclosed bold".into(), repeat_to(size, "<b>", "texte", "")),
        (
            "unclosed font".into(),
            repeat_to(size, "<font size=2>", "texte", ""),
        ),
        ("flat, under 48 divs".into(), under_divs(size)),
        ("flat, 1 MiB".into(), flat(small)),
        ("flat, 1 MiB under 48 divs".into(), under_divs(small)),
        (
            "nested div, 1 MiB".into(),
            repeat_to(small, "<div>", "texte", "</div>"),
        ),
        // Shapes that would slip past a flattening that trusted what the
        // mail says of itself, each under the limit so that html2text
        // renders what guichet leaves of it.
        (
            "self-closed div, 1 MiB".into(),
            repeat_to(small, "<div/>", "texte", ""),
        ),
        (
            "stray quote, 1 MiB".into(),
            repeat_to(small, "<div class=a\"b>", "texte", "</div>"),
        ),
        (
            "quote in <!, 1 MiB".into(),
            repeat_to(small, "<!x\"><div>", "texte", "</div>"),
        ),
        (
            "misnested b/div, 1 MiB".into(),
            repeat_to(small, "<b><div>", "texte", "</b>"),
        ),
    ];
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    if let (Some(shape), Some(with)) = (arg("--shape"), arg("--with")) {
        // One measurement, in the child.
        let html = &shapes[shape.parse::<usize>().unwrap()].1;
        let convert = if with == "guichet" {
            guichet
        } else {
            html2text_alone
        };
        let start = Instant::now();
        std::hint::black_box(convert(html));
        println!("{}", start.elapsed().as_secs_f64());
        return;
    }
    println!("bench/html: seconds per conversion, guichet beside html2text alone on the same bytes, each in a process of its own (over {} s: killed)", limit.as_secs());
    let show =
        |t: Option<f64>| t.map_or_else(|| format!(">{}", limit.as_secs()), |t| format!("{t:.3}"));
    for (i, (name, html)) in shapes.iter().enumerate() {
        let ours = time(i, "guichet", limit);
        let alone = time(i, "html2text", limit);
        let ratio = match (ours, alone) {
            (Some(o), Some(a)) => format!("{:.3}", o / a),
            (Some(o), None) => format!("<{:.4}", o / limit.as_secs_f64()),
            _ => "-".into(),
        };
        println!(
            "  {name:<28} guichet {:>8} s   html2text alone {:>8} s   ratio {ratio:>8}   ({} bytes)",
            show(ours),
            show(alone),
            html.len()
        );
    }
}
