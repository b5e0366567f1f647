//! Packs the bundled exercises and image recipes (`../exercises`, `../docker`) into the
//! binary, so that a copied or `cargo install`ed grader grades `todo-api` from any
//! folder; and names each exercise by its digest for `--version`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/run/digest.rs"]
#[allow(dead_code)]
mod digest;

/// What the bundle holds, from the workspace's root.
const FOLDERS: [&str; 2] = ["exercises", "docker"];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for folder in FOLDERS {
        println!("cargo:rerun-if-changed=../{folder}");
    }
    let file = std::fs::File::create(out.join("bundle.tar.gz")).expect("create the bundle");
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    for folder in FOLDERS {
        let files = digest::files_under(&root.join(folder), false).expect("read a bundled folder");
        for (name, path) in files {
            let name = format!("{folder}/{name}");
            let bytes = std::fs::read(&path).expect("read a bundled file");
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(if executable(&path) { 0o755 } else { 0o644 });
            header.set_mtime(0);
            header.set_cksum();
            tar.append_data(&mut header, &name, bytes.as_slice())
                .expect("append to the bundle");
        }
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .expect("write the bundle");
    // The bundle's own digest names the folder it is unpacked into (no hashing at start).
    let bundle = std::fs::read(out.join("bundle.tar.gz")).expect("read the bundle");
    let sum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bundle));
    std::fs::write(out.join("bundle.sha256"), &sum[..16]).expect("write bundle.sha256");

    // One line per exercise: its name and the digest its reports carry.
    let mut lines = String::new();
    let mut names: Vec<_> = std::fs::read_dir(root.join("exercises"))
        .expect("read exercises/")
        .flatten()
        .filter(|e| e.path().join("spec.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let d = digest::exercise_digest(&root.join("exercises").join(&name))
            .expect("digest an exercise");
        lines.push_str(&format!("  {name} {d}\n"));
    }
    std::fs::File::create(out.join("bundle.txt"))
        .and_then(|mut f| f.write_all(lines.as_bytes()))
        .expect("write bundle.txt");
}

#[cfg(unix)]
fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn executable(_: &Path) -> bool {
    false
}
