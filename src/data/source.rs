//! Reading a data or labels file into memory: only a regular file, bounded
//! by [`read_whole`], and a gzip-compressed one (`.csv.gz`, `.npy.gz`,
//! MNIST's `*-ubyte.gz`) decompressed transparently, bounded too.

use super::format_error;
use crate::input_file::read_whole;
use crate::limits::{self, MAX_FILE_BYTES};
use crate::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

pub(crate) const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// The bytes of `path`, decompressed when it is gzip (detected by magic
/// number, whatever the name).
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_whole(path)?;
    if !bytes.starts_with(GZIP_MAGIC) {
        return Ok(bytes);
    }
    let data = gunzip(path, &bytes, MAX_FILE_BYTES)?;
    // One layer only: a bomb nests layers, and no data set ships that way.
    if data.starts_with(GZIP_MAGIC) {
        return Err(format_error(
            path,
            "is gzip-compressed twice; decompress the outer layer first (`gunzip`)",
        ));
    }
    Ok(data)
}

/// The decompressed content of the gzip stream `compressed` (all its
/// members, as `gunzip` writes them out), at most `limit` bytes.
///
/// A gzip header's size field is only the size modulo 2³² and can lie, so
/// the size is measured: a first pass decompresses into nothing and stops
/// past `limit` (a "zip bomb" is an [`Error::TooLarge`] without holding any
/// of it in memory), and a second fills a buffer reserved at once for the
/// measured size, so that an allocation the machine cannot back fails as an
/// error up front instead of growing until the OOM killer steps in.
pub(crate) fn gunzip(path: &Path, compressed: &[u8], limit: u64) -> Result<Vec<u8>> {
    let corrupt = |e: std::io::Error| {
        format_error(
            path,
            format!("is not a valid gzip file ({e}); check that it was downloaded whole"),
        )
    };
    let cap = limit.saturating_add(1);
    let size = std::io::copy(
        &mut MultiGzDecoder::new(compressed).take(cap),
        &mut std::io::sink(),
    )
    .map_err(corrupt)?;
    limits::check(
        format!(
            "the decompressed size in bytes of {} (reading stopped past the limit)",
            path.display()
        ),
        size,
        limit,
    )?;
    let mut data = Vec::new();
    data.try_reserve_exact(size as usize).map_err(|_| {
        Error::file(
            path.to_path_buf(),
            format!("cannot allocate {size} bytes to decompress it"),
        )
    })?;
    MultiGzDecoder::new(compressed)
        .take(size)
        .read_to_end(&mut data)
        .map_err(corrupt)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_gzip_stream_of_several_members_is_read_whole() {
        let mut two = gzip(b"1,2,0\n");
        two.extend(gzip(b"3,4,1\n"));
        let data = gunzip(Path::new("x.csv.gz"), &two, 1 << 20).unwrap();
        assert_eq!(data, b"1,2,0\n3,4,1\n");
    }

    #[test]
    fn a_zip_bomb_is_refused_past_the_limit_with_a_typed_error() {
        // 16 MiB of zeros compress to about 16 KiB; the limit here is 1 MiB.
        let bomb = gzip(&vec![0u8; 16 << 20]);
        assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
        match gunzip(Path::new("bomb.csv.gz"), &bomb, 1 << 20) {
            Err(Error::TooLarge { what, size, limit }) => {
                assert!(what.contains("bomb.csv.gz"), "{what}");
                assert_eq!(limit, 1 << 20);
                assert!(size > limit);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        // Exactly at the limit is fine.
        let at_limit = gzip(&vec![7u8; 1 << 20]);
        assert_eq!(
            gunzip(Path::new("ok.gz"), &at_limit, 1 << 20)
                .unwrap()
                .len(),
            1 << 20
        );
    }

    #[test]
    fn a_truncated_gzip_file_names_the_file() {
        let mut cut = gzip(b"1,2,0\n3,4,1\n");
        cut.truncate(cut.len() - 10);
        let error = gunzip(Path::new("cut.csv.gz"), &cut, 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("cut.csv.gz") && error.contains("not a valid gzip file"),
            "{error}"
        );
    }
}
