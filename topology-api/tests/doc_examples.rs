//! Every public item of the API crate shows an example in its docs (`cargo doc` is what an
//! author reads first): a `///` block with a code fence above each `pub` item outside test
//! modules, or, for `pub mod x;`, the module's own `//!` docs.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The public item a line declares (`fn name`, `struct Name`, ...), if any.
fn public_item(line: &str) -> Option<(String, String)> {
    // A macro's template (`pub fn $name`) is documented where the macro is invoked.
    if line.contains('$') {
        return None;
    }
    let rest = line.trim_start().strip_prefix("pub ")?;
    let mut words = rest.split(|c: char| !(c.is_alphanumeric() || c == '_'));
    let kind = words.next()?;
    if !["fn", "struct", "enum", "trait", "const", "type", "mod"].contains(&kind) {
        return None;
    }
    let name = words.find(|w| !w.is_empty())?;
    Some((kind.to_owned(), name.to_owned()))
}

#[test]
fn every_public_item_has_an_example() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break; // test modules close each file
            }
            let Some((kind, name)) = public_item(line) else {
                continue;
            };
            let docs: Vec<&str> = lines[..i]
                .iter()
                .rev()
                .take_while(|l| {
                    let l = l.trim_start();
                    l.starts_with("///") || l.starts_with("#[")
                })
                .copied()
                .collect();
            let mut has_example = docs.iter().any(|l| l.contains("```"));
            if kind == "mod" && line.trim_end().ends_with(';') {
                let module = src.join(format!("{name}.rs"));
                has_example |= std::fs::read_to_string(module).is_ok_and(|m| {
                    m.lines()
                        .take_while(|l| l.starts_with("//!"))
                        .any(|l| l.contains("```"))
                });
            }
            if !has_example {
                missing.push(format!("{}:{}: pub {kind} {name}", file.display(), i + 1));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "public items without an example in their docs:\n{}",
        missing.join("\n")
    );
}
