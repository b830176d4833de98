//! Files diagnostics point into, with line/column lookup.

/// Index of a file in the [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

#[derive(Debug)]
struct File {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

/// The texts diagnostics refer to, by [`FileId`].
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<File>,
}

impl SourceMap {
    pub fn new() -> Self {
        SourceMap::default()
    }

    /// Adds a file; `name` is what diagnostics print (as given on the command line).
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        self.files.push(File {
            name: name.into(),
            text,
            line_starts,
        });
        FileId(u32::try_from(self.files.len() - 1).expect("fewer than 2^32 files"))
    }

    pub fn name(&self, id: FileId) -> &str {
        &self.files[id.0 as usize].name
    }

    pub fn text(&self, id: FileId) -> &str {
        &self.files[id.0 as usize].text
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        let file = &self.files[id.0 as usize];
        let offset = offset.min(file.text.len());
        let line = file.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = file.line_starts[line];
        let col = file.text[start..floor_char(&file.text, offset)]
            .chars()
            .count()
            + 1;
        (line + 1, col)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, id: FileId, line: usize) -> &str {
        let file = &self.files[id.0 as usize];
        let start = file.line_starts[line - 1];
        let end = file
            .line_starts
            .get(line)
            .map_or(file.text.len(), |&e| e.saturating_sub(1));
        file.text[start..end.max(start)].trim_end_matches('\r')
    }
}

fn floor_char(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based_and_counts_chars() {
        let mut map = SourceMap::new();
        let id = map.add("t.toml", "a = 1\nbé = \"x\"\n");
        assert_eq!(map.line_col(id, 0), (1, 1));
        assert_eq!(map.line_col(id, 6), (2, 1));
        // `=` after the two-byte `é` is the 4th character of line 2.
        assert_eq!(map.line_col(id, 10), (2, 4));
        assert_eq!(map.line_text(id, 2), "bé = \"x\"");
    }
}
