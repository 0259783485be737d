//! Issue 12: "No import circle anywhere in src/". This test reads every
//! `.rs` file under `src/`, builds the graph of which module names which
//! other module through a `crate::`, `super::` or `self::` path, and fails
//! on any cycle, printing it as `a -> b -> a` with the file and line of
//! each edge.
//!
//! The parse is small and std only: a lexer that drops comments (doc
//! comments too: rustdoc links are not imports) and string and char
//! literals, then a scan of the tokens. The rules:
//! - Modules follow `mod name;` from `src/lib.rs` (the library, printed
//!   bare: `model`, `gpu::device`) and from `src/main.rs` (the binary, a
//!   separate crate printed as `bin::cli::…`). `#[cfg(test)] mod` and
//!   `#[cfg(test)]` or `#[cfg(doc)]` (rustdoc links only) `use` are left out.
//! - A path names the deepest module it walks through, or, for a name that
//!   module re-exports (`pub use x::Name` in lib.rs, a mod.rs, any module),
//!   the module the name comes from: `crate::Model` names `model`.
//! - An edge between a module and its own ancestor or descendant does not
//!   count: a parent re-exporting its children is not a cycle.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// A token's text (a word, `::`, or one punctuation character) and its line.
type Token = (String, usize);
/// Where an edge comes from: file (relative to src/), line, and the path.
type Site = (String, usize, String);

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The tokens of a source file, without comments and literals.
fn lex(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().chain("\n\n\n".chars()).collect();
    let (mut out, mut i, mut line, mut counted) = (Vec::new(), 0, 1, 0);
    // Index just past the first `end` from `j` on, stepping over `\` escapes if asked.
    let past = |mut j: usize, end: &str, escapes: bool| {
        let end: Vec<char> = end.chars().collect();
        while j < c.len() && !c[j..].starts_with(&end) {
            j += if escapes && c[j] == '\\' { 2 } else { 1 };
        }
        j + end.len()
    };
    while i < c.len() - 3 {
        let word_end = (i..).find(|&j| !is_ident(c[j])).unwrap();
        let raw = matches!(c[i..word_end], ['r'] | ['b', 'r'] | ['c', 'r'])
            && (c[word_end] == '"' || c[word_end] == '#' && !is_ident(c[word_end + 1]));
        i = match (c[i], c[i + 1]) {
            ('/', '/') => past(i, "\n", false) - 1,
            ('/', '*') => {
                let (mut depth, mut j) = (0, i); // block comments nest
                loop {
                    match (c[j], c[j + 1]) {
                        ('/', '*') => (depth, j) = (depth + 1, j + 2),
                        ('*', '/') => (depth, j) = (depth - 1, j + 2),
                        _ => j += 1,
                    }
                    if depth == 0 || j + 1 >= c.len() {
                        break j;
                    }
                }
            }
            ('"', _) => past(i + 1, "\"", true),
            ('\'', next) if next == '\\' || c[i + 2] == '\'' => past(i + 2, "'", true),
            _ if raw => {
                let hashes = c[word_end..].iter().take_while(|&&h| h == '#').count();
                past(
                    word_end + hashes + 1,
                    &format!("\"{}", "#".repeat(hashes)),
                    false,
                )
            }
            (ch, next) => {
                let len = match ch {
                    _ if is_ident(ch) => word_end - i,
                    ':' if next == ':' => 2,
                    _ => 1,
                };
                if !ch.is_whitespace() {
                    line += c[counted..i].iter().filter(|&&n| n == '\n').count();
                    counted = i;
                    out.push((c[i..i + len].iter().collect(), line));
                }
                i + len
            }
        };
    }
    out
}

/// The text of token `i`, or "" past either end.
fn at(t: &[Token], i: usize) -> &str {
    t.get(i).map_or("", |(s, _)| s)
}

/// Index just past the bracket group that opens at `i`.
fn skip_group(t: &[Token], mut i: usize) -> usize {
    let mut depth = 0;
    while i < t.len() {
        depth += match at(t, i) {
            "(" | "[" | "{" => 1,
            ")" | "]" | "}" => -1,
            _ => 0,
        };
        i += 1;
        if depth == 0 {
            break;
        }
    }
    i
}

/// Adds the leaves of the `use` tree at `i` to `out`: path, bound name, line.
fn use_tree(
    t: &[Token],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, String, usize)>,
) {
    let (mut path, mut alias) = (prefix.to_vec(), None);
    loop {
        match at(t, *i) {
            "as" => (alias, *i) = (Some(at(t, *i + 1).to_string()), *i + 2),
            "::" | "*" => *i += 1,
            "{" => {
                *i += 1;
                while !matches!(at(t, *i), "}" | "") {
                    use_tree(t, i, &path, out);
                    *i += usize::from(at(t, *i) == ",");
                }
                *i += 1;
                return;
            }
            word if word.starts_with(is_ident) => (path.push(word.to_string()), *i += 1).1,
            _ => break,
        }
    }
    if path.last().is_some_and(|s| s == "self") {
        path.pop();
    }
    let name = alias.or_else(|| path.last().cloned()).unwrap_or_default();
    out.push((path, name, t[*i - 1].1));
}

/// Whether `a` is `b`, or one lies inside the other.
fn related(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"))
}

/// Modules are written with their crate first: `crate::gpu::device`, `bin::cli`.
#[derive(Default)]
struct Graph {
    /// Each module that has a file, and that file (relative to src/).
    modules: BTreeMap<String, String>,
    /// Files reached only through `#[cfg(test)] mod x;`.
    test_files: BTreeSet<String>,
    /// `module::Name` → (the module of its `pub use`, the path there).
    reexports: BTreeMap<String, (String, Vec<String>)>,
    /// Paths not resolved yet: (file, its module, the (inline) module the
    /// path is written in, the path, its line).
    paths: Vec<(String, String, String, Vec<String>, usize)>,
    /// from → to → the first place in `from` that names `to`.
    edges: BTreeMap<String, BTreeMap<String, Site>>,
}

/// The file of module `child`, declared by `mod child;` in `file`: in
/// lib.rs, main.rs or a/mod.rs beside it; in a.rs, under a/.
fn child_file(files: &BTreeMap<String, String>, file: &str, child: &str) -> String {
    let dir = match file.rsplit_once('/') {
        Some((dir, "mod.rs")) => format!("{dir}/"),
        None if file == "lib.rs" || file == "main.rs" => String::new(),
        _ => format!("{}/", file.trim_end_matches(".rs")),
    };
    [format!("{dir}{child}.rs"), format!("{dir}{child}/mod.rs")]
        .into_iter()
        .find(|f| files.contains_key(f))
        .unwrap_or_else(|| panic!("src/{file}: no file for `mod {child};`"))
}

impl Graph {
    /// The graph of a source tree given as path relative to src/ → text.
    fn build(files: &BTreeMap<String, String>) -> Graph {
        let mut g = Graph::default();
        let mut todo = vec![
            ("lib.rs".into(), "crate".into()),
            ("main.rs".into(), "bin".into()),
        ];
        todo.retain(|(file, _): &(String, String)| files.contains_key(file));
        let mut test_todo = Vec::new();
        while let Some((file, module)) = todo.pop() {
            let file_of = |child: &String| child_file(files, &file, child);
            let (children, test_children) = g.scan(&file, &files[&file], &module);
            test_todo.extend(test_children.iter().map(file_of));
            todo.extend(
                children
                    .iter()
                    .map(|c| (file_of(c), format!("{module}::{c}"))),
            );
            g.modules.insert(module, file);
        }
        // A test module's own modules are test files too, and make no edge
        // either: they are scanned into a graph that is thrown away.
        while let Some(file) = test_todo.pop() {
            let (children, test_children) =
                Graph::default().scan(&file, &files[&file], "crate::test");
            let file_of = |child: &String| child_file(files, &file, child);
            test_todo.extend(children.iter().chain(&test_children).map(file_of));
            g.test_files.insert(file);
        }
        for (file, from, scope, path, line) in std::mem::take(&mut g.paths) {
            match g.resolve(&scope, &path, 0) {
                Some(to) if !related(&from, &to) => {
                    let site = (file, line, path.join("::"));
                    g.edges.entry(from).or_default().entry(to).or_insert(site);
                }
                _ => {}
            }
        }
        g
    }

    /// Notes the paths and re-exports of one file; returns its `mod x;`
    /// children and its `#[cfg(test)] mod x;` ones.
    fn scan(&mut self, file: &str, src: &str, module: &str) -> (Vec<String>, Vec<String>) {
        let (t, mut children, mut test_children) = (lex(src), Vec::new(), Vec::new());
        let (mut i, mut depth, mut inline) = (0, 0, Vec::<(String, i32)>::new());
        let mut after_pub = usize::MAX; // the index just past the last `pub` or `pub(…)`
        while i < t.len() {
            let scope = (inline.iter()).fold(module.to_string(), |m, (n, _)| format!("{m}::{n}"));
            let cfg = |what: &str| {
                (0..7).all(|k| at(&t, i + k) == ["#", "[", "cfg", "(", what, ")", "]"][k])
            };
            if cfg("test") || cfg("doc") {
                let mut j = i + 7;
                while at(&t, j) == "#" {
                    j = skip_group(&t, j + 1); // further attributes
                }
                if at(&t, j) == "use" {
                    // A test-only `use`, or one for rustdoc links (not imports either).
                    i = (j..t.len()).find(|&k| at(&t, k) == ";").unwrap_or(t.len());
                    continue;
                }
                if at(&t, j) == "mod" && cfg("test") {
                    i = match at(&t, j + 2) {
                        "{" => skip_group(&t, j + 2),
                        _ => (test_children.push(at(&t, j + 1).to_string()), j + 3).1,
                    };
                    continue;
                }
            }
            let mut note = |path: Vec<String>, line| {
                (self.paths).push((file.into(), module.into(), scope.clone(), path, line));
            };
            match at(&t, i) {
                "mod" if at(&t, i + 2) == ";" => children.push(at(&t, i + 1).to_string()),
                "mod" if at(&t, i + 2) == "{" => inline.push((at(&t, i + 1).into(), depth + 1)),
                "{" => depth += 1,
                "}" => {
                    if inline.last().is_some_and(|&(_, d)| d == depth) {
                        inline.pop();
                    }
                    depth -= 1;
                }
                "pub" if at(&t, i + 1) == "(" => after_pub = skip_group(&t, i + 1),
                "pub" => after_pub = i + 1,
                "use" => {
                    let (public, mut leaves) = (after_pub == i, Vec::new());
                    i += 1;
                    use_tree(&t, &mut i, &[], &mut leaves);
                    for (path, name, line) in leaves {
                        if public {
                            let source = (scope.clone(), path.clone());
                            self.reexports.insert(format!("{scope}::{name}"), source);
                        }
                        note(path, line);
                    }
                    continue;
                }
                word @ ("crate" | "super" | "self") if at(&t, i + 1) == "::" => {
                    let (line, mut path) = (t[i].1, vec![word.to_string()]);
                    while at(&t, i + 1) == "::" && at(&t, i + 2).starts_with(is_ident) {
                        path.push(at(&t, i + 2).to_string());
                        i += 2;
                    }
                    note(path, line);
                }
                _ => {}
            }
            i += 1;
        }
        (children, test_children)
    }

    /// The module that `path`, written in module `scope`, names; None for a
    /// path into another crate.
    fn resolve(&self, scope: &str, path: &[String], hops: usize) -> Option<String> {
        let supers = path.iter().take_while(|s| *s == "super").count();
        let segs: Vec<&str> = scope.split("::").collect();
        let (mut at, rest) = match path.first()?.as_str() {
            "crate" => (segs[0].to_string(), &path[1..]),
            "self" => (scope.to_string(), &path[1..]),
            "super" => (
                segs[..segs.len().saturating_sub(supers).max(1)].join("::"),
                &path[supers..],
            ),
            // A relative path, as in `pub use child::Name;`.
            c if self.modules.contains_key(&format!("{scope}::{c}")) => (scope.to_string(), path),
            _ => return None,
        };
        while !self.modules.contains_key(&at) {
            at.truncate(at.rfind("::")?); // an inline module belongs to its file's
        }
        for seg in rest {
            let child = format!("{at}::{seg}");
            if self.modules.contains_key(&child) {
                at = child;
            } else if let Some((scope, path)) = self.reexports.get(&child)
                && hops < 16
            {
                return self.resolve(scope, path, hops + 1).or(Some(at));
            } else {
                break;
            }
        }
        Some(at)
    }

    /// The shortest cycle through each edge that lies on one, each cycle once,
    /// as `[a, b, …, a]` starting from its least module.
    fn cycles(&self) -> BTreeSet<Vec<&String>> {
        let next = |m: &String| self.edges.get(m).into_iter().flat_map(BTreeMap::keys);
        let mut found = BTreeSet::new();
        for (from, targets) in &self.edges {
            for to in targets.keys() {
                // Breadth first from `to`, back to `from`.
                let (mut came_from, mut queue) = (BTreeMap::from([(to, to)]), VecDeque::from([to]));
                while let Some(m) = queue.pop_front() {
                    for n in next(m) {
                        if !came_from.contains_key(n) {
                            came_from.insert(n, m);
                            queue.push_back(n);
                        }
                    }
                }
                if came_from.contains_key(from) {
                    let mut cycle = vec![from];
                    while cycle.last() != Some(&to) {
                        cycle.push(came_from[cycle.last().unwrap()]);
                    }
                    cycle.reverse();
                    let least = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap();
                    cycle.rotate_left(least);
                    cycle.push(cycle[0]);
                    found.insert(cycle);
                }
            }
        }
        found
    }

    /// Each cycle as `a -> b -> a`, then each edge's file, line and path.
    fn report(&self) -> Vec<String> {
        let name = |m: &String| m.strip_prefix("crate::").unwrap_or(m).to_string();
        let describe = |cycle: &Vec<&String>| {
            let mut out = cycle
                .iter()
                .map(|m| name(m))
                .collect::<Vec<_>>()
                .join(" -> ");
            for pair in cycle.windows(2) {
                let (file, line, path) = &self.edges[pair[0]][pair[1]];
                let (from, to) = (name(pair[0]), name(pair[1]));
                out += &format!("\n    {from} -> {to}: src/{file}:{line} `{path}`");
            }
            out
        };
        self.cycles().iter().map(describe).collect()
    }
}

fn read_tree(dir: &Path, rel: &str, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("{rel}{}", path.file_name().unwrap().to_str().unwrap());
        if path.is_dir() {
            read_tree(&path, &format!("{name}/"), out);
        } else if name.ends_with(".rs") {
            out.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn src_has_no_import_cycle() {
    let mut files = BTreeMap::new();
    read_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        "",
        &mut files,
    );
    let g = Graph::build(&files);
    let reached: BTreeSet<&String> = g.modules.values().chain(&g.test_files).collect();
    let unread: Vec<&String> = files.keys().filter(|f| !reached.contains(f)).collect();
    assert!(unread.is_empty(), "no `mod` declaration reaches {unread:?}");
    let edges: usize = g.edges.values().map(BTreeMap::len).sum();
    assert!(
        edges > 100,
        "only {edges} edges between modules: the parser lost its way"
    );
    let cycles = g.report();
    assert!(
        cycles.is_empty(),
        "import cycles in src/:\n  {}",
        cycles.join("\n  ")
    );
}

/// The graph of files written one after another, each after a `==> path` line.
fn synthetic(tree: &str) -> Graph {
    let files = tree
        .split("==> ")
        .skip(1)
        .map(|file| file.split_once('\n').unwrap());
    Graph::build(&files.map(|(path, src)| (path.into(), src.into())).collect())
}

#[test]
fn a_cycle_through_reexports_grouped_and_inline_paths_is_reported() {
    let g = synthetic(
        "==> lib.rs
mod a; mod b; mod c;
pub use a::{Other, Z};
==> a.rs
pub struct Z;
use crate::{
    b::{self, X},
};
==> b.rs
pub struct X;
fn f() { super::c::g(); }
==> c/mod.rs
mod d;
pub use d::g;
==> c/d.rs
pub fn g() -> crate::Z { crate::Z }
",
    );
    let expected = "a -> b -> c::d -> a
    a -> b: src/a.rs:3 `crate::b`
    b -> c::d: src/b.rs:2 `super::c::g`
    c::d -> a: src/c/d.rs:1 `crate::Z`";
    assert_eq!(g.report(), [expected]);
}

#[test]
fn comments_literals_test_modules_and_parents_make_no_edge() {
    let g = synthetic(
        r###"==> lib.rs
//! [`crate::trap`]
mod a; mod b; mod trap;
pub use b::X;
==> a.rs
/// crate::trap::X
/* crate::trap /* nested */
   crate::trap */ use crate::X;
const S: &str = "crate::trap \" crate::trap";
const R: &str = r##"crate::trap "# crate::trap"##;
fn f<'a>(_: &'a str) -> char { '"' }
const T: &str = "crate::trap";
==> b.rs
pub struct X;
mod child;
#[cfg(test)]
mod tests { use crate::trap; }
#[cfg(doc)]
use crate::trap::Linked;
#[cfg(test)]
#[allow(unused)]
mod more;
==> b/child.rs
use super::X;
use crate::b::X as Y;
use crate::X as Z;
==> b/more.rs
use crate::trap;
mod deeper;
==> b/more/deeper.rs
use crate::trap;
==> trap.rs
==> main.rs
mod cli;
==> cli.rs
use crate::cli::x;
use lintrain::trap;
"###,
    );
    let edges: Vec<String> = (g.edges.iter())
        .flat_map(|(from, to)| {
            to.iter()
                .map(move |(to, at)| format!("{from} -> {to} {at:?}"))
        })
        .collect();
    assert_eq!(edges, [r#"crate::a -> crate::b ("a.rs", 3, "crate::X")"#]);
    assert!(g.modules.contains_key("bin::cli"));
    assert_eq!(
        g.test_files,
        BTreeSet::from(["b/more.rs".to_string(), "b/more/deeper.rs".to_string()])
    );
}
