//! `kexpose test`: runs the AccessTest documents among the inputs against
//! the APIRules and exposures beside them, reporting in the check formats.

use std::io::{IsTerminal, Write};

use clap::Args;

use super::args::color_for;
use super::explain::ModelArgs;
use super::{Fatal, Outcome};
use crate::access::suite;
use crate::policy::Policy;
use crate::report::{self, Format, Run};

#[derive(Args)]
pub struct TestArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn test(args: &TestArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let (loaded, _) = match args.model.load() {
        Ok(l) => l,
        Err(outcome) => return outcome,
    };
    if loaded.tests.is_empty() {
        return Err(Fatal::Message(
            "no AccessTest documents found (apiVersion kexpose.dev/v1alpha1, kind AccessTest)"
                .into(),
        ));
    }
    let ran = suite::run(&loaded, args.model.domain.as_deref(), &Policy::default());
    let run = Run::new(ran.files);
    let color = color_for(args.model.input.color, std::io::stdout().is_terminal());
    report::write(&run, args.format, color, out)?;
    out.flush()?;
    Ok(if ran.failed > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
