//! authkeys: parsing rules, error lines, secrecy of Debug output, and the
//! permission/ownership checks against real files in a temp directory.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::tests::{Expect, TempDir};
use crate::*;

const PATH: &str = "/etc/ha.d/authkeys";

fn check_errors(text: &str, expected: &[(Option<u32>, &str)]) {
    let errs = match parse_authkeys(text, PATH) {
        Ok(k) => panic!("expected errors for {text:?}, got {k:?}"),
        Err(e) => e,
    };
    let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errs.len(),
        expected.len(),
        "{text:?}:\n{}",
        shown.join("\n")
    );
    for (e, (line, msg)) in errs.iter().zip(expected) {
        assert_eq!(e.line, *line, "{text:?}: {e}");
        assert!(e.message.contains(msg), "{text:?}: {e} lacks {msg:?}");
    }
}

#[test]
fn valid_files() {
    // (text, active index, active method, active secret, all indexes)
    type Row<'a> = (&'a str, u8, AuthMethod, &'a [u8], &'a [u8]);
    let table: &[Row] = &[
        (
            "auth 1\n1 sha1 hb-test-secret\n",
            1,
            AuthMethod::Sha1,
            b"hb-test-secret",
            &[1],
        ),
        (
            "auth 3\n1 crc\n2 sha1 HI!\n3 md5 Hello!\n",
            3,
            AuthMethod::Md5,
            b"Hello!",
            &[1, 2, 3],
        ),
        ("auth 0\n0 crc\n", 0, AuthMethod::Crc, b"", &[0]),
        (
            "# comment\n\n  auth\t15  \n15 sha1 k#1 # trailing comment\r\n",
            15,
            AuthMethod::Sha1,
            b"k#1",
            &[15],
        ),
        (
            "auth 2\n9 md5 nine\n2 sha1 two\n",
            2,
            AuthMethod::Sha1,
            b"two",
            &[2, 9],
        ),
    ];
    for (text, index, method, secret, all) in table {
        let k = parse_authkeys(text, PATH).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        assert_eq!(k.active_index(), *index, "{text:?}");
        assert_eq!(k.active().method, *method, "{text:?}");
        assert_eq!(k.active().secret(), *secret, "{text:?}");
        let idx: Vec<u8> = k.keys().iter().map(|k| k.index).collect();
        assert_eq!(idx, *all, "{text:?}");
        assert_eq!(k.path, Path::new(PATH));
    }
}

#[test]
fn lookup_by_index_for_incoming_packets() {
    let k = parse_authkeys("auth 1\n1 sha1 one\n2 md5 two\n", PATH).unwrap();
    assert_eq!(
        k.get(2).map(|k| (k.method, k.secret())),
        Some((AuthMethod::Md5, &b"two"[..]))
    );
    assert_eq!(k.get(2).map(|k| k.line), Some(3));
    assert!(k.get(3).is_none());
}

#[test]
fn errors_carry_lines() {
    let table: &[(&str, Expect)] = &[
        ("1 sha1 x\n", &[(None, "missing 'auth N' directive")]),
        (
            "auth 2\n1 sha1 x\n",
            &[(Some(1), "auth 2: key index 2 is not defined")],
        ),
        (
            "auth 16\n1 sha1 x\n",
            &[
                (Some(1), "auth: invalid key index '16' (expected 0 to 15)"),
                (None, "missing 'auth N'"),
            ],
        ),
        (
            "auth\n",
            &[
                (Some(1), "auth: missing key index"),
                (None, "missing 'auth N'"),
            ],
        ),
        (
            "auth x\n1 crc\n",
            &[
                (Some(1), "auth: invalid key index 'x'"),
                (None, "missing 'auth N'"),
            ],
        ),
        (
            "auth 1 2\n1 crc\n",
            &[(Some(1), "auth: unexpected text '2'")],
        ),
        (
            "auth 1\nauth 1\n1 crc\n",
            &[(Some(2), "duplicate auth directive (first on line 1)")],
        ),
        (
            "auth 1\n16 sha1 x\n1 crc\n",
            &[(Some(2), "invalid key index '16' (expected 0 to 15)")],
        ),
        (
            "auth 1\n-1 sha1 x\n1 crc\n",
            &[(
                Some(2),
                "invalid line: expected 'auth N' or 'N METHOD [SECRET]', found '-1'",
            )],
        ),
        (
            "auth 1\n1a sha1 x\n1 crc\n",
            &[(Some(2), "invalid key index '1a'")],
        ),
        (
            "auth 1\n1 sha256 x\n",
            &[
                (
                    Some(2),
                    "key 1: unknown method 'sha256' (expected sha1, md5 or crc)",
                ),
                (Some(1), "key index 1 is not defined"),
            ],
        ),
        (
            "auth 1\n1 SHA1 x\n",
            &[(Some(2), "unknown method 'SHA1'"), (Some(1), "not defined")],
        ),
        (
            "auth 1\n1\n",
            &[(Some(2), "key 1: missing method"), (Some(1), "not defined")],
        ),
        (
            "auth 1\n1 sha1\n",
            &[
                (Some(2), "key 1: method sha1 requires a secret"),
                (Some(1), "not defined"),
            ],
        ),
        (
            "auth 1\n1 md5 # no secret\n",
            &[
                (Some(2), "key 1: method md5 requires a secret"),
                (Some(1), "not defined"),
            ],
        ),
        (
            "auth 1\n1 crc secret\n",
            &[
                (Some(2), "key 1: method crc does not use a secret"),
                (Some(1), "not defined"),
            ],
        ),
        (
            "auth 1\n1 sha1 two words\n",
            &[
                (
                    Some(2),
                    "the secret must be one word; Heartbeat would ignore 'words'",
                ),
                (Some(1), "not defined"),
            ],
        ),
        (
            "auth 1\n1 sha1 a\n1 md5 b\n",
            &[(Some(3), "duplicate key index 1 (first on line 2)")],
        ),
        (
            "1 sha1 a\nauth 1\n",
            &[(Some(2), "key 1 is defined on line 1 before this auth line")],
        ),
        (
            "auth 1\nkey 1 sha1 a\n1 crc\n",
            &[(Some(2), "invalid line")],
        ),
        ("", &[(None, "missing 'auth N' directive")]),
    ];
    for (text, expected) in table {
        check_errors(text, expected);
    }
}

#[test]
fn error_display() {
    let errs = parse_authkeys("auth 1\n1 sha1\n", "/etc/ha.d/authkeys").unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "/etc/ha.d/authkeys:2: key 1: method sha1 requires a secret"
    );
}

#[test]
fn debug_output_hides_secrets() {
    let k = parse_authkeys("auth 1\n1 sha1 s3cr3t-value\n2 md5 other-s3cr3t\n", PATH).unwrap();
    let dbg = format!("{k:?} {:?} {:?}", k.active(), k.get(2));
    assert!(!dbg.contains("s3cr3t"), "{dbg}");
    assert!(dbg.contains("Secret(<12 bytes redacted>)"), "{dbg}");
    let rendered = render_effective(&crate::tests::hacf_min(), Some(&k));
    assert!(!rendered.contains("s3cr3t"), "{rendered}");
}

#[test]
fn permission_rules() {
    let p = Path::new("/etc/ha.d/authkeys");
    // (mode, owner, euid, expected message parts; empty = accepted)
    let table: &[(u32, u32, u32, &[&str])] = &[
        (0o100600, 0, 0, &[]),
        (0o100400, 0, 0, &[]),
        (0o100700, 1000, 1000, &[]),
        (
            0o100644,
            0,
            0,
            &[
                "mode 0644 gives group or others access",
                "chmod 600 /etc/ha.d/authkeys",
            ],
        ),
        (0o100640, 0, 0, &["mode 0640"]),
        (0o100604, 0, 0, &["mode 0604"]),
        (0o100610, 0, 0, &["mode 0610"]),
        (0o100601, 0, 0, &["mode 0601"]),
        (
            0o100600,
            65534,
            0,
            &["owned by uid 65534, but heartbeat runs as uid 0"],
        ),
        (
            0o100600,
            0,
            1000,
            &["owned by uid 0, but heartbeat runs as uid 1000"],
        ),
        (0o100666, 65534, 0, &["mode 0666", "owned by uid 65534"]),
    ];
    for (mode, owner, euid, expected) in table {
        let got = check_authkeys_permissions(p, *mode, *owner, *euid);
        match (got, expected.is_empty()) {
            (Ok(()), true) => {}
            (Err(errs), false) => {
                let all: String = errs.iter().map(|e| e.to_string() + "\n").collect();
                for part in *expected {
                    assert!(all.contains(part), "mode {mode:o} owner {owner}: {all}");
                }
                assert!(errs.iter().all(|e| e.path == p && e.line.is_none()));
                assert!(all.starts_with("/etc/ha.d/authkeys: "), "{all}");
            }
            (g, _) => panic!("mode {mode:o} owner {owner} euid {euid}: got {g:?}"),
        }
    }
}

fn write_keys(dir: &TempDir, name: &str, mode: u32) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, "auth 1\n1 sha1 hb-test-secret\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn load_checks_the_real_file() {
    let dir = TempDir::new("authkeys");
    let euid = nix::unistd::geteuid().as_raw();

    let good = write_keys(&dir, "good", 0o600);
    let k = load_authkeys(&good).unwrap();
    assert_eq!(k.active().secret(), b"hb-test-secret");
    assert_eq!(k.path, good);

    let open = write_keys(&dir, "open", 0o644);
    let errs = load_authkeys(&open).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    let msg = errs[0].to_string();
    assert!(
        msg.starts_with(&format!("{}: mode 0644", open.display())),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("chmod 600 {}", open.display())),
        "{msg}"
    );

    let group = write_keys(&dir, "group", 0o640);
    assert!(load_authkeys(&group).is_err());

    // Owned by someone else: as root, really chown the file to nobody.
    let other = write_keys(&dir, "other", 0o600);
    if euid == 0 {
        std::os::unix::fs::chown(&other, Some(65534), None).unwrap();
        let errs = load_authkeys(&other).unwrap_err();
        assert!(
            errs[0]
                .message
                .contains("owned by uid 65534, but heartbeat runs as uid 0"),
            "{errs:?}"
        );
    }
    // Whatever we run as, a different effective uid is refused.
    let errs = load_authkeys_as(&good, euid.wrapping_add(1)).unwrap_err();
    assert!(errs[0].message.contains("owned by uid"), "{errs:?}");

    let errs = load_authkeys(dir.path()).unwrap_err();
    assert!(errs[0].message.contains("not a regular file"), "{errs:?}");

    let missing = dir.path().join("missing");
    let errs = load_authkeys(&missing).unwrap_err();
    assert!(errs[0].message.starts_with("cannot open:"), "{errs:?}");

    // Parse errors come through with the file's path and line.
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "auth 1\n1 sha1\n").unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    let errs = load_authkeys(&bad).unwrap_err();
    assert_eq!(errs[0].path, bad);
    assert_eq!(errs[0].line, Some(2));
}

#[test]
fn harness_authkeys() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/harness.authkeys");
    let text = std::fs::read_to_string(&p).unwrap();
    let k = parse_authkeys(&text, &p).unwrap();
    assert_eq!(k.active_index(), 1);
    assert_eq!(k.active().method, AuthMethod::Sha1);
    assert_eq!(k.active().secret(), b"hb-test-secret");
}
