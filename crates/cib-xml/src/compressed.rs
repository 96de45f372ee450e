//! CIB files that may be bzip2-compressed, as Pacemaker's saved scheduler
//! inputs are (`pe-input-N.bz2`): every tool that reads a CIB file accepts
//! both, told apart by the bzip2 magic (`BZh`), not by the name.

use std::io::{Read, Write};
use std::path::Path;

/// A CIB file's text, decompressed when it is bzip2. Errors name the file.
pub fn read_text(path: &Path) -> Result<String, String> {
    // "-" is standard input, as for every Pacemaker tool that reads XML
    // from a file (crmsh runs `crm_diff -o FILE -n -`).
    let raw = if path == Path::new("-") {
        let mut raw = Vec::new();
        std::io::stdin()
            .read_to_end(&mut raw)
            .map_err(|e| format!("could not read standard input: {e}"))?;
        raw
    } else {
        std::fs::read(path).map_err(|e| format!("could not read {}: {e}", path.display()))?
    };
    let bytes = if raw.starts_with(b"BZh") {
        let mut out = Vec::new();
        bzip2::read::BzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| format!("{}: not a valid bzip2 file: {e}", path.display()))?;
        out
    } else {
        raw
    };
    String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8", path.display()))
}

/// `text` compressed with bzip2 (level 9, as Pacemaker writes its inputs).
pub fn bzip2(text: &str) -> std::io::Result<Vec<u8>> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    enc.write_all(text.as_bytes())?;
    enc.finish()
}

/// Decompresses bzip2 `bytes`, refusing output longer than `limit`
/// bytes (a peer's data is never trusted to be small).
pub fn bunzip2_bounded(bytes: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    bzip2::read::BzDecoder::new(bytes)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a valid bzip2 stream: {e}"))?;
    if out.len() > limit {
        return Err(format!("decompresses to more than {limit} bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn compressed_and_plain_files_read_the_same() {
        let dir = std::env::temp_dir().join(format!("cibxml-bz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "<cib epoch=\"1\"><configuration/></cib>\n";
        std::fs::write(dir.join("a.bz2"), super::bzip2(text).unwrap()).unwrap();
        std::fs::write(dir.join("a.xml"), text).unwrap();
        assert_eq!(super::read_text(&dir.join("a.bz2")).unwrap(), text);
        assert_eq!(super::read_text(&dir.join("a.xml")).unwrap(), text);
        std::fs::write(dir.join("bad.bz2"), b"BZh9garbage").unwrap();
        assert!(super::read_text(&dir.join("bad.bz2"))
            .unwrap_err()
            .contains("not a valid bzip2 file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
