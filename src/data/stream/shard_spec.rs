//! Which files a data or labels argument names: one file, a glob whose
//! file-name part has `*` (any run of characters) or `?` (one character),
//! or a directory (its `*.npy` files). Several files are taken in sorted
//! order of their names, byte by byte, as `sorted(glob.glob(...))` gives
//! them in Python: `x_10.npy` sorts before `x_2.npy`, so number shards
//! with leading zeros (`x_002.npy`) to keep their order.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The files of a spec, and whether it named one file or a set.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SpecFiles {
    /// A path without wildcards that is not a directory (it may not exist:
    /// opening it says so).
    One(PathBuf),
    /// The matches of a glob or the `.npy` files of a directory, sorted.
    Set(Vec<PathBuf>),
}

/// The files `spec` names. A glob matching nothing and a directory without
/// `.npy` files are [`Error::EmptyData`] naming the pattern or directory.
pub(super) fn resolve(spec: &Path) -> Result<SpecFiles> {
    let name = spec
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = spec
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if has_wildcard(&parent.to_string_lossy()) {
        return Err(Error::file(
            spec,
            "has a wildcard (* or ?) in a directory name; only the file name may have them",
        ));
    }
    if has_wildcard(&name) {
        let files = list(parent, name.starts_with('.'), |file| matches(&name, file))?;
        if files.is_empty() {
            return Err(Error::EmptyData(format!(
                "no files match {}",
                spec.display()
            )));
        }
        return Ok(SpecFiles::Set(files));
    }
    if spec.is_dir() {
        let files = list(spec, false, |file| {
            Path::new(file)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
        })?;
        if files.is_empty() {
            return Err(Error::EmptyData(format!(
                "the directory {} has no .npy files",
                spec.display()
            )));
        }
        return Ok(SpecFiles::Set(files));
    }
    Ok(SpecFiles::One(spec.to_path_buf()))
}

/// The files `spec` names, as `resolve` finds them: the one path, or
/// the sorted matches of a glob or the `.npy` files of a directory.
pub fn spec_files(spec: &Path) -> Result<Vec<PathBuf>> {
    Ok(match resolve(spec)? {
        SpecFiles::One(path) => vec![path],
        SpecFiles::Set(paths) => paths,
    })
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// The regular files (symbolic links followed) of `directory` whose names
/// `keep` accepts, hidden ones (`.name`) left out unless `show_hidden` (a
/// pattern that starts with a dot, as in a shell), sorted by name.
fn list(directory: &Path, show_hidden: bool, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(directory).map_err(|e| Error::io(directory, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(directory, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if (name.starts_with('.') && !show_hidden) || !keep(&name) {
            continue;
        }
        let path = entry.path();
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Whether `name` matches `pattern`, where `*` stands for any run of
/// characters (none included) and `?` for exactly one.
fn matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // Greedy with backtracking to the last star: linear for one star,
    // O(pattern × name) at worst.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks_match_as_a_shell_does() {
        for (pattern, name, expected) in [
            ("x_*.npy", "x_000.npy", true),
            ("x_*.npy", "x_.npy", true),
            ("x_*.npy", "y_000.npy", false),
            ("x_*.npy", "x_000.npy.bak", false),
            ("x_???.npy", "x_012.npy", true),
            ("x_???.npy", "x_0123.npy", false),
            ("*", "anything", true),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b", "xxaxxbxxc", false),
            ("a*a*a", "aaaa", true),
            ("", "", true),
            ("", "a", false),
        ] {
            assert_eq!(matches(pattern, name), expected, "{pattern} vs {name}");
        }
    }

    #[test]
    fn globs_and_directories_list_sorted_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["x_10.npy", "x_02.npy", "x_01.npy", ".x_00.npy", "y_01.npy"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("x_99.npy")).unwrap();
        let names = |files: SpecFiles| match files {
            SpecFiles::Set(files) => files
                .iter()
                .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
            SpecFiles::One(file) => panic!("one file {}", file.display()),
        };
        assert_eq!(
            names(resolve(&dir.path().join("x_*.npy")).unwrap()),
            ["x_01.npy", "x_02.npy", "x_10.npy"]
        );
        assert_eq!(
            names(resolve(dir.path()).unwrap()),
            ["x_01.npy", "x_02.npy", "x_10.npy", "y_01.npy"]
        );
        let single = dir.path().join("x_01.npy");
        assert_eq!(resolve(&single).unwrap(), SpecFiles::One(single));

        let none = dir.path().join("z_*.npy");
        let error = resolve(&none).unwrap_err().to_string();
        assert!(
            error.contains("no files match") && error.contains(&none.display().to_string()),
            "{error}"
        );
        let empty = dir.path().join("x_99.npy");
        let error = resolve(&empty).unwrap_err().to_string();
        assert!(error.contains("has no .npy files"), "{error}");
        let error = resolve(&dir.path().join("*").join("x.npy"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("directory name"), "{error}");
    }
}
