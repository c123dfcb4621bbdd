//! `kexpose init`: a starting project that passes its own checks: the
//! config, one exposure, an `Issuers` document, a values file, an
//! AccessTest, the pre-commit hooks, and the first render. Nothing that
//! exists is replaced.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Fatal, Outcome};

#[derive(Args)]
pub struct InitArgs {
    /// Where to start the project (default: the working directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

const CONFIG: &str = "\
# kexpose project configuration; schema: https://kexpose.dev/schemas/config.json
apiVersion: kexpose.dev/v1alpha1
kind: Config
# Where exposure specs and Issuers documents live.
specs: [exposures/]
# Each environment: the values its templates render with, where its APIRules go.
environments:
  dev: {values: [env/dev.yaml], outDir: deploy/dev}
defaultEnvironment: dev
# Paths kexpose never reads (Helm templates, vendored manifests).
exclude: [\"charts/**\"]
# The only environment variables spec templates may read as env.NAME.
templates: {env: []}
";

const EXPOSURE: &str = "\
# httpbin on port 8000: GET /headers for clients of the identity provider
# `idp` (exposures/issuers.yaml), the status pages for everyone.
apiVersion: kexpose.dev/v1alpha1
kind: Exposure
metadata:
  name: httpbin
  namespace: {{ values.namespace }}
spec:
  service:
    name: httpbin
    port: 8000
  host: httpbin.{{ values.domain }}
  routes:
    - path: /headers
      methods: [GET]
      jwt:
        issuer: idp
    - path: /status/{*}
      methods: [GET]
      public: true
";

const ISSUERS: &str = "\
# Identity providers, named once for every exposure. Set jwksUri to the
# jwks_uri of the issuer's /.well-known/openid-configuration, or leave it out
# and record it with `kexpose lock`.
apiVersion: kexpose.dev/v1alpha1
kind: Issuers
metadata:
  name: identity
spec:
  issuers:
    idp:
      issuer: https://{{ values.tenant }}.accounts.example.com
      jwksUri: https://{{ values.tenant }}.accounts.example.com/oauth2/certs
";

/// What the exposure must let through and keep out, run by `kexpose test`
/// (the hosts and issuer are the dev environment's values).
const ACCESS_TEST: &str = "\
# What httpbin must answer, predicted offline from the exposure:
#   kexpose test
apiVersion: kexpose.dev/v1alpha1
kind: AccessTest
metadata:
  name: httpbin
spec:
  tokens:
    client:
      claims: {iss: \"https://my-tenant.accounts.example.com\", sub: my-client}
  cases:
    - name: a client of the tenant reads its headers
      request: GET https://httpbin.dev.example.com/headers
      token: client
      expect: 200
    - name: without a token, the headers are refused
      request: GET https://httpbin.dev.example.com/headers
      expect: 403
    - name: a token the tenant did not sign is rejected
      request: GET https://httpbin.dev.example.com/headers
      token: invalid
      expect: 401
    - name: the status pages are public
      request: GET https://httpbin.dev.example.com/status/200
      expect: 200
    - name: nothing else is exposed
      request: GET https://httpbin.dev.example.com/anything
      token: client
      expect: 404
";

const VALUES: &str = "\
namespace: dev
domain: dev.example.com
tenant: my-tenant
";

/// Hooks that run the kexpose on PATH (`repo: local`), so they need no
/// download and match the installed version.
const PRE_COMMIT: &str = "\
repos:
  - repo: local
    hooks:
      - id: kexpose-check
        name: kexpose check
        entry: kexpose check --format concise
        language: system
        types_or: [yaml, json]
        require_serial: true
      - id: kexpose-render-drift
        name: kexpose render --check
        entry: kexpose render --check
        language: system
        pass_filenames: false
        files: \\.(ya?ml|json)$
        require_serial: true
      - id: kexpose-lock-check
        name: kexpose lock --check
        entry: kexpose lock --check --offline
        language: system
        pass_filenames: false
        files: (\\.(ya?ml|json)|(^|/)kexpose\\.lock)$
        require_serial: true
      - id: kexpose-test
        name: kexpose test
        entry: kexpose test --format concise
        language: system
        pass_filenames: false
        files: \\.(ya?ml|json)$
        require_serial: true
";

pub fn init(args: &InitArgs) -> Result<Outcome, Fatal> {
    let dir = &args.dir;
    let files: [(&str, &str); 6] = [
        (crate::config::FILE_NAME, CONFIG),
        ("exposures/httpbin.yaml", EXPOSURE),
        ("exposures/issuers.yaml", ISSUERS),
        ("access-tests/httpbin.yaml", ACCESS_TEST),
        ("env/dev.yaml", VALUES),
        (".pre-commit-config.yaml", PRE_COMMIT),
    ];
    let mut err = super::stream::stderr();
    let mut kept = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        if write_new(&path, text)? {
            writeln!(err, "kexpose: wrote {}", path.display())?;
        } else {
            writeln!(err, "kexpose: kept the existing {}", path.display())?;
            kept.push(name);
        }
    }
    if kept.contains(&".pre-commit-config.yaml") {
        writeln!(
            err,
            "kexpose: add these hooks to your .pre-commit-config.yaml:\n{PRE_COMMIT}"
        )?;
    }
    if kept.contains(&crate::config::FILE_NAME) {
        writeln!(
            err,
            "kexpose: an existing {} is left as it is; the example files may not be part of its specs",
            crate::config::FILE_NAME
        )?;
        return Ok(Outcome::Clean);
    }
    // The first render, so that the drift hook starts from a clean state.
    let config = crate::config::Config::load(&dir.join(crate::config::FILE_NAME))?;
    let render = super::render::RenderArgs::for_project(config.path.clone());
    let mut out = std::io::sink();
    drop(err);
    super::render::render(&render, &mut out)
}

/// Writes `text` to a new file; `false` when the path exists already.
fn write_new(path: &Path, text: &str) -> Result<bool, Fatal> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Fatal::Message(format!("cannot create {}: {e}", parent.display())))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut f) => {
            f.write_all(text.as_bytes())
                .map_err(|e| Fatal::Message(format!("cannot write {}: {e}", path.display())))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Fatal::Message(format!(
            "cannot write {}: {e}",
            path.display()
        ))),
    }
}
