//! Where a value sits inside a YAML document, written the way a user reads it:
//! `nodes[2].sockets[0].connect`.
//!
//! A [`YamlPath`] is what every diagnostic carries so that
//! [`locate`](super::locate::locate) can turn it into a line and column later, and so that
//! messages can name the place in words
//! before any position is known.

use std::fmt;

/// One step down from a mapping or a list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    /// The value under this key of a mapping.
    Key(String),
    /// The element at this 0-based position of a list.
    Index(usize),
}

/// A path from the document root to one value; the empty path is the root itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YamlPath(Vec<Seg>);

impl YamlPath {
    /// The path of the whole document.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path extended by a mapping key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        self.with(Seg::Key(key.into()))
    }

    /// This path extended by a list position.
    pub fn index(&self, index: usize) -> Self {
        self.with(Seg::Index(index))
    }

    /// The steps from the root, outermost first.
    pub(crate) fn segs(&self) -> &[Seg] {
        &self.0
    }

    /// Whether this is the path of the whole document.
    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path one step up, or `None` for the root.
    pub fn parent(&self) -> Option<Self> {
        let (_, rest) = self.0.split_last()?;
        Some(Self(rest.to_vec()))
    }

    /// The last step, or `None` for the root.
    pub fn last(&self) -> Option<&Seg> {
        self.0.last()
    }

    /// Names the place for a message: "`nodes[0]`", or "the top level" for the root.
    pub fn describe(&self) -> String {
        if self.is_root() { "the top level".to_owned() } else { format!("`{self}`") }
    }

    fn with(&self, seg: Seg) -> Self {
        let mut segs = Vec::with_capacity(self.0.len() + 1);
        segs.extend_from_slice(&self.0);
        segs.push(seg);
        Self(segs)
    }
}

impl From<Vec<Seg>> for YamlPath {
    fn from(segs: Vec<Seg>) -> Self {
        Self(segs)
    }
}

impl fmt::Display for Seg {
    /// A key as written (`linger`), an index in brackets (`[3]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Key(key) => f.write_str(key),
            Seg::Index(index) => write!(f, "[{index}]"),
        }
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(index) => write!(f, "[{index}]")?,
                // Keys that would read as path syntax are quoted so the path stays unambiguous.
                Seg::Key(key) if !is_plain_key(key) => write!(f, "[{key:?}]")?,
                Seg::Key(key) if i == 0 => f.write_str(key)?,
                Seg::Key(key) => write!(f, ".{key}")?,
            }
        }
        Ok(())
    }
}

/// Whether a key can be printed bare between dots.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_user_writes_it() {
        let path = YamlPath::root().key("nodes").index(2).key("sockets").index(0).key("connect");
        assert_eq!(path.to_string(), "nodes[2].sockets[0].connect");
        assert_eq!(YamlPath::root().index(1).key("name").to_string(), "[1].name");
        assert_eq!(YamlPath::root().key("a.b").key("c").to_string(), "[\"a.b\"].c");
        assert_eq!(YamlPath::root().to_string(), "");
    }

    #[test]
    fn a_single_step_displays_alone() {
        assert_eq!(Seg::Key("linger".to_owned()).to_string(), "linger");
        assert_eq!(Seg::Index(3).to_string(), "[3]");
    }

    #[test]
    fn describes_root_in_words() {
        assert_eq!(YamlPath::root().describe(), "the top level");
        assert_eq!(YamlPath::root().key("nodes").index(0).describe(), "`nodes[0]`");
    }

    #[test]
    fn parent_steps_up_once() {
        let path = YamlPath::root().key("a").index(3);
        assert_eq!(path.parent(), Some(YamlPath::root().key("a")));
        assert_eq!(YamlPath::root().parent(), None);
        assert_eq!(path.last(), Some(&Seg::Index(3)));
    }
}
