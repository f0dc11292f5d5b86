//! One socket of a node: its name, type (with the libraries' other names for types),
//! `bind`, `library` and options.

use crate::design::Design;
use crate::plan::{Bind, Effective, EffectiveOptions, Library, SocketPlan, Source};
use crate::socket::SocketType;
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawSocket;
use crate::spec::scalar::{Scalar, ScalarKind};
use crate::spec::suggest::did_you_mean;

use super::scalars::not_a_whole_number;
use super::topology::TopologyResolver;

impl<'r> TopologyResolver<'r, '_, '_> {
    pub(super) fn socket(
        &mut self,
        raw: &RawSocket,
        design: Option<&Design>,
        inherited: Option<&Effective<Option<Library>>>,
        path: &YamlPath,
    ) -> Option<SocketPlan> {
        self.check_name(&raw.name, &path.key("name"), "socket");
        let socket_type = self.socket_type(&raw.socket_type, &path.key("type"))?;
        if let Some(design) = design {
            self.check_role(raw, socket_type, design, path);
        }
        let bind = raw.bind.as_ref().and_then(|b| self.bind(b, &path.key("bind")));
        // `connect: []` connects to nothing, just like no `connect` at all.
        if raw.bind.is_none() && raw.connect.as_ref().is_none_or(|c| c.is_empty()) {
            self.diags
                .error(
                    path,
                    Target::Value,
                    Code::UnconnectedSocket,
                    format!("socket `{}` neither binds nor connects", raw.name),
                )
                .hint("add `bind: true` or `connect: node.socket`");
        }
        let library = self
            .written_library(&raw.library, &path.key("library"))
            .or_else(|| inherited.cloned())
            .unwrap_or_else(|| EffectiveOptions::defaults(socket_type).library);
        self.check_library_has(library.value, socket_type, &raw.name, &path.key("type"));
        let mut options = EffectiveOptions::for_library(socket_type, library);
        if let Some(written) = &raw.options {
            let opts_path = path.key("options");
            let mut opts = written.clone();
            let mut from_params = Vec::new();
            for (name, value) in opts.scalars_mut() {
                // A `$param` the topology does not declare is reported by `expand`
                // and the option left out, so it is not refused a second time.
                if let Some(scalar) = value.take() {
                    let at = opts_path.key(name);
                    *value = self.expand_scalar(&scalar, &at);
                    if scalar.text.starts_with('$') {
                        from_params.push((at, scalar));
                    }
                }
            }
            let before = self.diags.as_slice().len();
            options.apply(&opts, socket_type, &opts_path, self.diags);
            for (at, written) in &from_params {
                self.name_the_param(written, at, before);
            }
        }
        Some(SocketPlan {
            name: raw.name.clone(),
            socket_type,
            bind,
            connects: Vec::new(),
            options,
        })
    }

    /// A `library:` as written at `path`, with its place in the file; `None` when
    /// absent, or unknown (then reported).
    pub(super) fn written_library(
        &mut self,
        written: &Option<String>,
        path: &YamlPath,
    ) -> Option<Effective<Option<Library>>> {
        let text = written.as_deref()?;
        let Some(library) = Library::from_name(text) else {
            let names = Library::ALL.map(Library::name);
            let d = self.diags.error(
                path,
                Target::Value,
                Code::UnknownLibrary,
                format!("`{text}` is not a library patchbay models"),
            );
            match did_you_mean(text, names) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("libraries: {}", names.join(", "))),
            };
            return None;
        };
        let src = self.diags.source();
        let location = crate::spec::yaml::locate(src, path, Target::Value);
        let source = Source::File { file: src.path.clone(), location };
        Some(Effective { value: Some(library), source })
    }

    /// libzmq has no survey or bus pattern: such a socket cannot stand for it.
    pub(super) fn check_library_has(
        &mut self,
        library: Option<Library>,
        t: SocketType,
        name: &str,
        path: &YamlPath,
    ) {
        let Some(lib) = library.filter(|l| !l.has(t)) else { return };
        self.diags
            .error(
                path,
                Target::Value,
                Code::TypeNotInLibrary,
                format!("socket `{name}` is a {t}, which {} does not have", lib.version()),
            )
            .hint(format!(
                "{t} is nanomsg's and NNG's: write `library: nanomsg` or `library: nng` on this socket or its node"
            ));
    }

    pub(super) fn socket_type(&mut self, text: &str, path: &YamlPath) -> Option<SocketType> {
        if let Some(t) = SocketType::from_name(text) {
            return Some(t);
        }
        // The names the libraries use for the same things.
        let alias = match text.to_ascii_uppercase().as_str() {
            "XREP" => Some("ROUTER (XREP is its old name; NNG's raw REP behaves the same)"),
            "XREQ" => Some("DEALER (XREQ is its old name; NNG's raw REQ behaves the same)"),
            "PUBLISHER" => Some("PUB"),
            "SUBSCRIBER" => Some("SUB"),
            "SURVEY" => Some("SURVEYOR"),
            "RESPONDER" => Some("RESPONDENT"),
            "UPSTREAM" => Some("PUSH"),
            "DOWNSTREAM" => Some("PULL"),
            _ => None,
        };
        let names = SocketType::ALL.map(SocketType::name);
        let d = self.diags.error(
            path,
            Target::Value,
            Code::UnknownSocketType,
            format!("`{text}` is not a socket type"),
        );
        match alias.map(str::to_owned).or_else(|| did_you_mean(text, names.iter().copied())) {
            Some(s) => d.hint(format!("did you mean {s}?")),
            None => d.hint(format!("socket types: {}", names.join(", "))),
        };
        None
    }

    pub(super) fn bind(&mut self, s: &Scalar, path: &YamlPath) -> Option<Bind> {
        let text = s.text.as_str();
        if text == "true" {
            return Some(Bind::Auto);
        }
        // A port is a YAML integer: `5555.0` once bound 5555.
        if s.kind == ScalarKind::Float
            && let Some((found, hint)) = not_a_whole_number(s)
        {
            self.diags
                .error(
                    path,
                    Target::Value,
                    Code::BadEndpoint,
                    format!("a port is a whole number, found {found}"),
                )
                .hint(hint.unwrap_or_else(|| {
                    "write `bind: true` (a port is picked), `bind: 5555` or `bind: tcp://*:5555`"
                        .to_owned()
                }));
            return None;
        }
        let port = text.strip_prefix("tcp://*:").unwrap_or(text);
        match port.parse::<u16>() {
            Ok(p) if p > 0 => Some(Bind::Port(p)),
            _ => {
                self.diags
                    .error(path, Target::Value, Code::BadEndpoint, format!("`{text}` is not a bind endpoint"))
                    .hint("write `bind: true` (a port is picked), `bind: 5555` or `bind: tcp://*:5555`");
                None
            }
        }
    }
}
