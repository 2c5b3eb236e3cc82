//! Uploaded files on the local disk, under `<data-dir>/uploads/`: writing them, telling what
//! they are from their bytes, and handing images to a model.
//!
//! A file is streamed to `uploads/.partial/<random>` and renamed to `uploads/<random>` only
//! once it is complete and within the limit, so a reader never sees half a file and a failed
//! or abandoned upload leaves nothing behind (the partial file is removed when its
//! [`Incoming`] is dropped, which is also what happens when the client goes away). The name
//! on disk is ours; the client's file name is only ever metadata.
//!
//! Each instance keeps its own files: with several instances on one PostgreSQL database,
//! `<data-dir>/uploads/` must be a volume they share (see the README), or a file is served
//! only by the instance that received it.

use crate::app::AppState;
use base64::Engine as _;
use parlor_core::id::OrgId;
use parlor_core::model::{Attachment, AttachmentType};
use std::path::{Component, Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The folder of uploads, relative to the data dir (and the prefix of every stored path).
pub const DIR: &str = "uploads";
/// Where files are written until they are complete, inside [`DIR`].
const PARTIAL: &str = ".partial";

/// The largest uploaded image sent to a model inline, as a `data:` URL. Providers cap
/// inline images (OpenAI at 20 MB a request; local servers often lower), and the request
/// body is held in memory while it is sent, base64 making it a third larger.
pub const INLINE_IMAGE_MAX: u64 = 4 * 1024 * 1024;
/// The most image bytes inlined into one model request, all images together.
pub const INLINE_TOTAL_MAX: u64 = 8 * 1024 * 1024;

/// How many leading bytes [`sniff`] looks at.
pub const SNIFF_LEN: usize = 512;

/// The media type of a file, told from its first bytes (at most [`SNIFF_LEN`]); never from
/// what the client claims, which would let anyone serve HTML from Parlor's origin.
/// Unrecognised binary data is `application/octet-stream`; UTF-8 text is `text/plain`.
pub fn sniff(head: &[u8]) -> &'static str {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    let within = |magic: &[u8]| head.windows(magic.len()).any(|w| w == magic);
    if at(0, b"\x89PNG\r\n\x1a\n") {
        return "image/png";
    }
    if at(0, b"\xff\xd8\xff") {
        return "image/jpeg";
    }
    if at(0, b"GIF87a") || at(0, b"GIF89a") {
        return "image/gif";
    }
    if at(0, b"RIFF") {
        if at(8, b"WEBP") {
            return "image/webp";
        }
        if at(8, b"WAVE") {
            return "audio/wav";
        }
        if at(8, b"AVI ") {
            return "video/x-msvideo";
        }
    }
    if at(0, b"BM") && head.len() >= 14 {
        return "image/bmp";
    }
    if at(0, b"II*\0") || at(0, b"MM\0*") {
        return "image/tiff";
    }
    // ISO base media (MP4, QuickTime, HEIF/AVIF): a `ftyp` box first, its brand names the kind.
    if at(4, b"ftyp") {
        let brand = head.get(8..12).unwrap_or_default();
        return match brand {
            b"avif" | b"avis" => "image/avif",
            b"heic" | b"heix" | b"mif1" | b"msf1" => "image/heic",
            b"M4A " | b"M4B " => "audio/mp4",
            b"qt  " => "video/quicktime",
            b"3gp4" | b"3gp5" | b"3gp6" | b"3g2a" => "video/3gpp",
            _ => "video/mp4",
        };
    }
    if at(0, b"%PDF-") {
        return "application/pdf";
    }
    if at(0, b"ID3") {
        return "audio/mpeg";
    }
    if at(0, b"OggS") {
        return if within(b"\x80theora") { "video/ogg" } else { "audio/ogg" };
    }
    if at(0, b"fLaC") {
        return "audio/flac";
    }
    if at(0, b"\x1a\x45\xdf\xa3") {
        return if within(b"webm") { "video/webm" } else { "video/x-matroska" };
    }
    // MPEG audio frame sync: eleven set bits. ADTS (AAC) has layer bits 00.
    if let [0xff, b, ..] = head {
        if b & 0xf6 == 0xf0 {
            return "audio/aac";
        }
        if b & 0xe0 == 0xe0 {
            return "audio/mpeg";
        }
    }
    if is_text(head) {
        return "text/plain; charset=utf-8";
    }
    "application/octet-stream"
}

/// UTF-8 without NUL or other control bytes than whitespace (a cut multi-byte character at
/// the end of the sniffed head is fine).
fn is_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return false;
    }
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(s) => s,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    valid.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

/// The attachment type a media type defaults to.
pub fn kind_of(content_type: &str) -> AttachmentType {
    match content_type.split('/').next() {
        Some("image") => AttachmentType::Image,
        Some("audio") => AttachmentType::Audio,
        Some("video") => AttachmentType::Video,
        _ => AttachmentType::Other,
    }
}

/// The client's file name made safe to store and to show: its last path segment (either
/// slash), without control characters, at most 255 characters; `file` when nothing is left.
pub fn clean_filename(name: Option<&str>) -> String {
    let name = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let name: String = name.chars().filter(|c| !c.is_control()).take(255).collect();
    let name = name.trim();
    if name.is_empty() || name == "." || name == ".." { "file".into() } else { name.to_string() }
}

/// Where a stored path lives, refusing anything but plain segments below the data dir (the
/// path comes from the database, but a path check costs nothing).
pub fn resolve(data_dir: &Path, storage_path: &str) -> Option<PathBuf> {
    let rel = Path::new(storage_path);
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && rel.starts_with(DIR)).then(|| data_dir.join(rel))
}

/// An upload being written. Dropped before [`Incoming::keep`], it removes its partial file.
pub struct Incoming {
    partial: PathBuf,
    name: String,
    file: Option<tokio::fs::File>,
    head: Vec<u8>,
    size: u64,
}

impl Incoming {
    /// A new partial file in `<data_dir>/uploads/.partial/`.
    pub async fn create(data_dir: &Path) -> std::io::Result<Incoming> {
        let dir = data_dir.join(DIR).join(PARTIAL);
        tokio::fs::create_dir_all(&dir).await?;
        // A random name: nothing of the client's reaches the file system.
        let name = uuid::Uuid::new_v4().simple().to_string();
        let partial = dir.join(&name);
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&partial).await?;
        Ok(Incoming { partial, name, file: Some(file), head: Vec::with_capacity(SNIFF_LEN), size: 0 })
    }

    /// Appends a piece of the file.
    pub async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.size += chunk.len() as u64;
        match &mut self.file {
            Some(f) => f.write_all(chunk).await,
            None => Err(std::io::Error::other("the upload was already kept")),
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file's media type, from its first bytes.
    pub fn content_type(&self) -> &'static str {
        sniff(&self.head)
    }

    /// Makes the file durable and moves it to its final place; returns its path relative to
    /// the data dir, as stored with the attachment.
    pub async fn keep(self) -> std::io::Result<String> {
        self.keep_in(None).await
    }

    /// [`Incoming::keep`] into a folder of the uploads (`uploads/<folder>/<name>`), created if
    /// needed: the widget keeps each visitor's images in a folder of their own, and that path
    /// is what says whose an image is. `folder` is ours, never a client's.
    pub async fn keep_in(mut self, folder: Option<&str>) -> std::io::Result<String> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
            // On disk before it is renamed, so a crash cannot leave a complete-looking name
            // on missing bytes.
            f.sync_all().await?;
        }
        let uploads = self.partial.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
        let (rel, dir) = match folder {
            Some(folder) => (format!("{DIR}/{folder}/{}", self.name), uploads.join(folder)),
            None => (format!("{DIR}/{}", self.name), uploads),
        };
        if folder.is_some() {
            tokio::fs::create_dir_all(&dir).await?;
        }
        tokio::fs::rename(&self.partial, dir.join(&self.name)).await?;
        // Renamed: nothing left for `drop` to remove.
        self.partial = PathBuf::new();
        Ok(rel)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.partial.as_os_str().is_empty() {
            // Close before removing; a plain unlink, cheap enough for a destructor.
            self.file.take();
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// The images of a question as the model gets them: an external http(s) URL as it is (the
/// provider fetches it), an uploaded image as a `data:` URL of its bytes (the provider cannot
/// reach Parlor), within [`INLINE_IMAGE_MAX`] each and [`INLINE_TOTAL_MAX`] in all. An upload
/// that is not an image by its bytes (whatever its `type` says), too large, or missing is left
/// out, with a warning in the log: the question is answered without it.
pub async fn image_urls(state: &AppState, org: OrgId, attachments: &[Attachment]) -> Vec<String> {
    let mut out = Vec::new();
    let mut inlined = 0u64;
    for a in attachments.iter().filter(|a| a.kind == AttachmentType::Image) {
        if a.file.starts_with("http://") || a.file.starts_with("https://") {
            out.push(a.file.clone());
            continue;
        }
        match inline(state, org, a, INLINE_TOTAL_MAX.saturating_sub(inlined)).await {
            Ok(Some((url, size))) => {
                inlined += size;
                out.push(url);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(attachment = %a.id, error = %e, "an uploaded image was not sent to the model")
            }
        }
    }
    out
}

/// One uploaded image as a `data:` URL and its size; `None` when it is not an image.
async fn inline(
    state: &AppState,
    org: OrgId,
    a: &Attachment,
    budget: u64,
) -> Result<Option<(String, u64)>, String> {
    let stored = state.store.get_attachment(org, a.id).await.map_err(|e| e.to_string())?;
    let (Some(path), Some(content_type)) = (stored.storage_path, stored.content_type) else {
        return Ok(None);
    };
    if !content_type.starts_with("image/") {
        return Ok(None);
    }
    let path = resolve(&state.data_dir, &path).ok_or("a stored path outside the uploads")?;
    let size = tokio::fs::metadata(&path).await.map_err(|e| e.to_string())?.len();
    let limit = INLINE_IMAGE_MAX.min(budget);
    if size > limit {
        return Err(format!("{size} bytes, above the {limit} bytes an inline image may have"));
    }
    let bytes = tokio::fs::read(&path).await.map_err(|e| e.to_string())?;
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Ok(Some((format!("data:{content_type};base64,{data}"), size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_types_from_their_bytes() {
        let cases: &[(&[u8], &str)] = &[
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
            (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
            (b"GIF89a\x01\0\x01\0", "image/gif"),
            (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
            (b"RIFF\0\0\0\0WAVEfmt ", "audio/wav"),
            (b"\0\0\0\x18ftypmp42\0\0\0\0", "video/mp4"),
            (b"\0\0\0\x1cftypavif\0\0\0\0", "image/avif"),
            (b"\0\0\0\x20ftypM4A \0\0\0\0", "audio/mp4"),
            (b"%PDF-1.7\n", "application/pdf"),
            (b"ID3\x04\0\0\0\0\0\0", "audio/mpeg"),
            (b"\xff\xfb\x90\x64", "audio/mpeg"),
            (b"\xff\xf1\x50\x80", "audio/aac"),
            (b"OggS\0\x02\0\0\x01vorbis", "audio/ogg"),
            (b"fLaC\0\0\0\x22", "audio/flac"),
            (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", "video/webm"),
            (b"<html><script>alert(1)</script>", "text/plain; charset=utf-8"),
            (b"\0\x01\x02binary", "application/octet-stream"),
            (b"", "application/octet-stream"),
        ];
        for (bytes, want) in cases {
            assert_eq!(sniff(bytes), *want, "{bytes:?}");
        }
    }

    #[test]
    fn types_default_from_the_media_type() {
        assert_eq!(kind_of("image/png"), AttachmentType::Image);
        assert_eq!(kind_of("audio/ogg"), AttachmentType::Audio);
        assert_eq!(kind_of("video/webm"), AttachmentType::Video);
        assert_eq!(kind_of("application/pdf"), AttachmentType::Other);
    }

    #[test]
    fn client_file_names_never_become_paths() {
        assert_eq!(clean_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_filename(Some("C:\\Users\\me\\cat.png")), "cat.png");
        assert_eq!(clean_filename(Some("a\nb.txt")), "ab.txt");
        assert_eq!(clean_filename(Some("..")), "file");
        assert_eq!(clean_filename(None), "file");
        assert!(resolve(Path::new("/d"), "uploads/../x").is_none());
        assert!(resolve(Path::new("/d"), "/etc/passwd").is_none());
        assert_eq!(resolve(Path::new("/d"), "uploads/ab"), Some(PathBuf::from("/d/uploads/ab")));
    }
}
