//! The module graph of a crate's sources, read with `syn`, and the two rules the workspace's
//! shape keeps (docs/architecture.md): no cycle between modules, and no forbidden import in
//! a module of a given layer (the server's domain modules never name axum or HTTP errors).
//!
//! A module's dependencies are the paths it names through `crate::`, `super::` or `self::`
//! (in `use` trees, types, expressions and macro calls); `#[cfg(test)]` items are skipped,
//! since tests may reach anywhere. A reference from `a::x` to `a::y::z` is an edge between
//! the siblings `a::x` and `a::y` — the children of the two paths' deepest common ancestor.
//! A parent naming its own child (a facade re-exporting it) or a child naming its parent is
//! not an edge: a parent is the namespace of its children. Each set of siblings must then form
//! a graph without cycles, at every level. This is the rule `cargo modules dependencies
//! --acyclic` applies, computed here in a test so that CI checks it on every run without
//! installing a tool.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module's path inside its crate, e.g. `["sync", "engine"]`; the crate root is empty.
pub type ModPath = Vec<String>;

/// One place where a module names a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub from: ModPath,
    /// The module the path resolves to (the deepest known module on it).
    pub to: ModPath,
    pub file: PathBuf,
    pub line: usize,
    /// The path as written, e.g. `crate::http::error::ApiError`.
    pub text: String,
}

/// The modules of one crate and every path they name.
#[derive(Debug, Default)]
pub struct Crate {
    pub modules: BTreeSet<ModPath>,
    pub references: Vec<Reference>,
    /// Every path written in a module, including external ones (`axum::Json`), for the
    /// forbidden-import rule.
    pub all_paths: Vec<Reference>,
}

/// A cycle among sibling modules, with one reference that makes each of its edges.
#[derive(Debug)]
pub struct Cycle {
    pub parent: ModPath,
    pub members: Vec<String>,
    pub evidence: Vec<Reference>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "cycle under `{}`: {}",
            show(&self.parent),
            self.members.join(" <-> ")
        )?;
        for r in &self.evidence {
            writeln!(
                f,
                "    {} -> {}  ({}:{}: {})",
                show(&r.from),
                show(&r.to),
                r.file.display(),
                r.line,
                r.text
            )?;
        }
        Ok(())
    }
}

pub fn show(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_string()
    } else {
        path.join("::")
    }
}

/// Reads every module of the crate whose `src` folder is `src` (root `lib.rs` or `main.rs`).
pub fn read_crate(src: &Path) -> Result<Crate, String> {
    let mut krate = Crate::default();
    let root = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .find(|p| p.exists())
        .ok_or_else(|| format!("{} has no lib.rs or main.rs", src.display()))?;
    let mut files = Vec::new();
    read_file(&root, Vec::new(), &mut krate, &mut files)?;
    // Paths are resolved once every module is known.
    let modules = krate.modules.clone();
    for raw in files {
        for (segments, line) in raw.paths {
            let text = segments.join("::");
            let absolute = resolve(&raw.module, &raw.local_mods, &segments);
            let reference = |to: ModPath| Reference {
                from: raw.module.clone(),
                to,
                file: raw.file.clone(),
                line,
                text: text.clone(),
            };
            match absolute {
                Some(abs) => {
                    let to = deepest_module(&modules, &abs);
                    krate.all_paths.push(reference(abs));
                    krate.references.push(reference(to));
                }
                None => krate.all_paths.push(reference(segments.clone())),
            }
        }
    }
    Ok(krate)
}

struct RawFile {
    file: PathBuf,
    module: ModPath,
    /// Child modules declared in this file (relative paths may start with them).
    local_mods: BTreeSet<String>,
    paths: Vec<(Vec<String>, usize)>,
}

fn read_file(
    file: &Path,
    module: ModPath,
    krate: &mut Crate,
    out: &mut Vec<RawFile>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let ast = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    // foo.rs keeps its children in foo/, mod.rs, lib.rs and main.rs in their own folder.
    let dir = match file.file_name().and_then(|n| n.to_str()) {
        Some("mod.rs" | "lib.rs" | "main.rs") => file.parent().map(Path::to_path_buf),
        _ => file
            .parent()
            .zip(file.file_stem())
            .map(|(p, stem)| p.join(stem)),
    }
    .ok_or_else(|| format!("{} has no folder", file.display()))?;
    krate.modules.insert(module.clone());
    let mut collector = Collector {
        module: module.clone(),
        paths: Vec::new(),
        inline: Vec::new(),
        local_mods: BTreeSet::new(),
        external: Vec::new(),
    };
    collector.visit_file(&ast);
    let Collector {
        paths,
        inline,
        local_mods,
        external,
        ..
    } = collector;
    out.push(RawFile {
        file: file.to_path_buf(),
        module: module.clone(),
        local_mods,
        paths,
    });
    for (name, paths, mods) in inline {
        let mut m = module.clone();
        m.push(name);
        krate.modules.insert(m.clone());
        out.push(RawFile {
            file: file.to_path_buf(),
            module: m,
            local_mods: mods,
            paths,
        });
    }
    for name in external {
        let mut m = module.clone();
        m.push(name.clone());
        let candidates = [
            dir.join(format!("{name}.rs")),
            dir.join(&name).join("mod.rs"),
        ];
        let child = candidates
            .iter()
            .find(|p| p.exists())
            .ok_or_else(|| format!("module {} has no file", show(&m)))?;
        read_file(child, m, krate, out)?;
    }
    Ok(())
}

/// Paths a module names, each with the line it is written on.
type Paths = Vec<(Vec<String>, usize)>;

/// An inline module: its name, the paths it names and its own child modules.
type Inline = (String, Paths, BTreeSet<String>);

/// Collects the paths one file names, its `mod x;` declarations and its inline modules.
struct Collector {
    module: ModPath,
    paths: Paths,
    /// Inline modules (`mod x { ... }`) that are not `#[cfg(test)]`: name, paths, child mods.
    inline: Vec<Inline>,
    local_mods: BTreeSet<String>,
    /// `mod x;` declarations whose bodies live in their own file.
    external: Vec<String>,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .map(|m| meta_mentions_test(&m))
                .unwrap_or(false)
    })
}

fn meta_mentions_test(meta: &syn::Meta) -> bool {
    match meta {
        syn::Meta::Path(p) => p.is_ident("test"),
        syn::Meta::List(list) => {
            list.path.is_ident("all") && list.tokens.to_string().contains("test")
        }
        syn::Meta::NameValue(_) => false,
    }
}

fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

impl Collector {
    fn push(&mut self, segments: Vec<String>, line: usize) {
        if !segments.is_empty() {
            self.paths.push((segments, line));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, line: usize) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, line);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut s = prefix.clone();
                if n.ident != "self" {
                    s.push(n.ident.to_string());
                }
                self.push(s, line);
            }
            syn::UseTree::Rename(r) => {
                let mut s = prefix.clone();
                if r.ident != "self" {
                    s.push(r.ident.to_string());
                }
                self.push(s, line);
            }
            syn::UseTree::Glob(_) => self.push(prefix.clone(), line),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t, line);
                }
            }
        }
    }

    /// Paths inside macro calls (`format!`, `matches!`, `json!`...) are tokens, not syntax:
    /// runs of `ident :: ident ...` that start at `crate`, `super` or `self` are taken.
    fn macro_tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let mut run: Vec<String> = Vec::new();
        let mut line = 0;
        let mut colons = 0;
        let flush = |run: &mut Vec<String>, line: usize, paths: &mut Vec<(Vec<String>, usize)>| {
            if run.len() > 1 && matches!(run[0].as_str(), "crate" | "super" | "self") {
                paths.push((std::mem::take(run), line));
            }
            run.clear();
        };
        for tt in tokens {
            match tt {
                proc_macro2::TokenTree::Ident(i) => {
                    if run.is_empty() || colons == 2 {
                        if run.is_empty() {
                            line = line_of(i.span());
                        }
                        run.push(i.to_string());
                    } else {
                        flush(&mut run, line, &mut self.paths);
                        line = line_of(i.span());
                        run.push(i.to_string());
                    }
                    colons = 0;
                }
                proc_macro2::TokenTree::Punct(p) if p.as_char() == ':' => colons += 1,
                proc_macro2::TokenTree::Group(g) => {
                    flush(&mut run, line, &mut self.paths);
                    colons = 0;
                    self.macro_tokens(g.stream());
                }
                _ => {
                    flush(&mut run, line, &mut self.paths);
                    colons = 0;
                }
            }
        }
        flush(&mut run, line, &mut self.paths);
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Type(t) => &t.attrs,
            syn::Item::Macro(m) => &m.attrs,
            _ => &[],
        };
        if is_cfg_test(attrs) {
            return;
        }
        match item {
            syn::Item::Mod(m) => {
                let name = m.ident.to_string();
                self.local_mods.insert(name.clone());
                match &m.content {
                    None => self.external.push(name),
                    Some((_, items)) => {
                        let mut inner = Collector {
                            module: {
                                let mut p = self.module.clone();
                                p.push(name.clone());
                                p
                            },
                            paths: Vec::new(),
                            inline: Vec::new(),
                            local_mods: BTreeSet::new(),
                            external: Vec::new(),
                        };
                        for i in items {
                            inner.visit_item(i);
                        }
                        // Nested inline modules are flattened into their own entries.
                        for (n, p, mods) in inner.inline {
                            self.inline.push((format!("{name}::{n}"), p, mods));
                        }
                        self.inline.push((name, inner.paths, inner.local_mods));
                    }
                }
            }
            syn::Item::Use(u) => {
                let line = line_of(u.use_token.span);
                let mut prefix = Vec::new();
                if u.leading_colon.is_some() {
                    // `::name` is always an external crate.
                    prefix.push(String::new());
                }
                self.use_tree(&mut prefix, &u.tree, line);
            }
            other => syn::visit::visit_item(self, other),
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            let line = path
                .segments
                .first()
                .map(|s| line_of(s.ident.span()))
                .unwrap_or(0);
            self.push(segments, line);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.macro_tokens(mac.tokens.clone());
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

/// The absolute path a path written in `module` names, or `None` for an external crate or a
/// name the checker cannot place (a local variable, a prelude item).
fn resolve(
    module: &[String],
    local_mods: &BTreeSet<String>,
    segments: &[String],
) -> Option<ModPath> {
    let first = segments.first()?;
    let mut base: ModPath = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => {
            let mut base = module.to_vec();
            let mut rest = segments;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            return Some(base);
        }
        // A relative path into one of this module's own children: parent to child, which is
        // never an edge, but resolved so that a reach through the child is seen.
        name if local_mods.contains(name) => module.to_vec(),
        _ => return None,
    };
    let skip = usize::from(matches!(first.as_str(), "crate" | "self"));
    base.extend(segments.iter().skip(skip).cloned());
    Some(base)
}

fn deepest_module(modules: &BTreeSet<ModPath>, path: &[String]) -> ModPath {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
        .unwrap_or_default()
}

/// The sibling edge a reference makes, if any: (parent, from-child, to-child).
fn sibling_edge(from: &[String], to: &[String]) -> Option<(ModPath, String, String)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    let a = from.get(common)?;
    let b = to.get(common)?;
    Some((from[..common].to_vec(), a.clone(), b.clone()))
}

/// Every cycle among siblings, at every level of the crate.
pub fn cycles(krate: &Crate) -> Vec<Cycle> {
    let mut graphs: BTreeMap<ModPath, BTreeMap<(String, String), Reference>> = BTreeMap::new();
    for r in &krate.references {
        if let Some((parent, a, b)) = sibling_edge(&r.from, &r.to) {
            graphs
                .entry(parent)
                .or_default()
                .entry((a, b))
                .or_insert_with(|| r.clone());
        }
    }
    let mut found = Vec::new();
    for (parent, edges) in graphs {
        for scc in strongly_connected(&edges) {
            let members: BTreeSet<&String> = scc.iter().collect();
            let evidence = edges
                .iter()
                .filter(|((a, b), _)| members.contains(a) && members.contains(b))
                .map(|(_, r)| r.clone())
                .collect();
            found.push(Cycle {
                parent: parent.clone(),
                members: scc,
                evidence,
            });
        }
    }
    found
}

/// Strongly connected components with more than one member (Tarjan's algorithm).
fn strongly_connected(edges: &BTreeMap<(String, String), Reference>) -> Vec<Vec<String>> {
    let mut adjacency: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        adjacency.entry(a).or_default().push(b);
        adjacency.entry(b).or_default();
    }
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(v: &'a str, adj: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in adj.get(v).map(Vec::as_slice).unwrap_or(&[]) {
            if !s.index.contains_key(w) {
                visit(w, adj, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).map(|l| {
                    *l = (*l).min(lw);
                    *l
                });
                let _ = lv;
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                if let Some(l) = s.low.get_mut(v) {
                    *l = (*l).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                s.out.push(scc);
            }
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for &v in adjacency.keys() {
        if !state.index.contains_key(v) {
            visit(v, &adjacency, &mut state);
        }
    }
    state.out
}

/// The paths written in modules under `layer` (and its children), skipping modules under
/// `exempt`, that start with one of `prefixes` (an external crate such as `axum`, or a module
/// of this crate such as `http`, which `crate::http` resolves to) or name one of `names` (a
/// type such as `ApiError`) anywhere.
pub fn forbidden_paths<'a>(
    krate: &'a Crate,
    layer: &[String],
    exempt: &[ModPath],
    prefixes: &[&str],
    names: &[&str],
) -> Vec<&'a Reference> {
    let starts = |path: &str, f: &str| path == f || path.starts_with(&format!("{f}::"));
    krate
        .all_paths
        .iter()
        .filter(|r| r.from.starts_with(layer))
        .filter(|r| !exempt.iter().any(|e| r.from.starts_with(e)))
        .filter(|r| {
            let text = r.text.trim_start_matches("::");
            let abs = show(&r.to);
            prefixes.iter().any(|f| starts(text, f) || starts(&abs, f))
                || text.split("::").any(|segment| names.contains(&segment))
        })
        .collect()
}
