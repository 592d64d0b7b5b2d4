//! The sandbox's files import one way: no module reaches (through `crate::` or `super::` paths)
//! into a module that reaches back into it, directly or through others. The layers are listed in
//! the crate's `Layout` header; this test keeps that header true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `resource/access.rs` -> `resource::access`; `resource/mod.rs` -> `resource`.
fn module_of(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    s.split_at(end)
}

/// The paths a `crate::`/`super::` path names, expanded one level into `{...}` groups:
/// `a::{b, c::d}` -> `a::b`, `a::c`.
fn paths_after(rest: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut s = rest;
    loop {
        if let Some(group) = s.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            return inner
                .split(',')
                .map(|item| {
                    let (name, _) = ident(item.trim());
                    let mut p = prefix.clone();
                    p.push(name.to_owned());
                    p
                })
                .filter(|p| p.last().is_some_and(|n| !n.is_empty()))
                .collect();
        }
        let (name, after) = ident(s);
        if name.is_empty() {
            return vec![prefix];
        }
        prefix.push(name.to_owned());
        match after.strip_prefix("::") {
            Some(next) => s = next,
            None => return vec![prefix],
        }
    }
}

/// The module a path starts in: its longest prefix that is a module.
fn resolve(modules: &BTreeSet<String>, path: &[String]) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

#[test]
fn sandbox_modules_import_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&root, f)).collect();
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&root, file);
        let is_mod_rs = file.file_name().is_some_and(|n| n == "mod.rs");
        let parent: Vec<String> = {
            let mut p: Vec<String> = module.split("::").map(str::to_owned).collect();
            if !is_mod_rs {
                p.pop();
            }
            p
        };
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let code = code(&text);
        let mut deps = BTreeSet::new();
        for (keyword, base) in [("crate::", Vec::new()), ("super::", parent.clone())] {
            for (at, _) in code.match_indices(keyword) {
                let before = code[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let base = if keyword == "super::" && is_mod_rs {
                    parent[..parent.len().saturating_sub(1)].to_vec()
                } else {
                    base.clone()
                };
                for path in paths_after(&code[at + keyword.len()..]) {
                    let full: Vec<String> = base.iter().cloned().chain(path).collect();
                    if let Some(target) = resolve(&modules, &full)
                        && target != module
                        && target != "lib"
                    {
                        deps.insert(target);
                    }
                }
            }
        }
        imports.insert(module, deps);
    }
    // Depth-first search for a cycle, reporting the first one found.
    fn visit(
        m: &str,
        imports: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(m.to_owned());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_owned());
        for d in imports.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, imports, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for m in imports.keys() {
        if let Some(cycle) = visit(m, &imports, &mut Vec::new(), &mut done) {
            panic!(
                "sandbox modules import in a circle: {}\nimports: {imports:#?}",
                cycle.join(" -> ")
            );
        }
    }
    // The check sees the imports it must: the router reaches the handlers, `resource::outgoing`
    // its siblings through `super::`.
    assert!(imports["router"].contains("resource"), "{imports:#?}");
    assert!(
        imports["resource::outgoing"].contains("resource::quote"),
        "{imports:#?}"
    );
}
