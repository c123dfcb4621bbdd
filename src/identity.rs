//! The identity area: what kexpose learns from and asks of identity
//! providers. `lock` records OpenID discovery in `kexpose.lock`, `oidc`
//! speaks discovery, JWKS and the client-credentials grant, `probe` judges
//! a protected endpoint's answers, and `net` is the strict HTTP client they
//! share. Nothing here is needed to check or render offline, except the
//! lock file's contents.

pub mod lock;
pub mod net;
pub mod oidc;
pub mod probe;
