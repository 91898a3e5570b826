//! Files in the browser: reading a `Blob`'s bytes, making a picture's preview, and handing
//! bytes back as a `Blob`.

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, BlobPropertyBag, ImageBitmap, OffscreenCanvas, OffscreenCanvasRenderingContext2d,
};

use crate::error::{ErrorCode, sotto_error};

/// The longest side of a preview, in pixels.
const PREVIEW_SIDE: f64 = 64.0;

/// A `Blob`'s bytes.
pub async fn blob_bytes(blob: &Blob) -> Result<Vec<u8>, JsValue> {
    let buf = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|_| sotto_error(ErrorCode::Unsupported, "cannot read the file"))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// Bytes as a `Blob` of `mime` type.
pub fn to_blob(data: &[u8], mime: &str) -> Result<Blob, JsValue> {
    let parts = Array::of1(&Uint8Array::from(data).into());
    let bag = BlobPropertyBag::new();
    bag.set_type(mime);
    Blob::new_with_u8_array_sequence_and_options(&parts, &bag)
}

/// A small JPEG preview of a picture, within [`sotto_proto::envelope::MAX_THUMBNAIL_BYTES`];
/// `None` where the browser cannot decode it or the preview does not fit.
pub async fn thumbnail(picture: &Blob) -> Option<Vec<u8>> {
    let global = js_sys::global();
    let create: js_sys::Function = Reflect::get(&global, &"createImageBitmap".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let bitmap: ImageBitmap = JsFuture::from(
        create
            .call1(&global, picture)
            .ok()?
            .dyn_into::<js_sys::Promise>()
            .ok()?,
    )
    .await
    .ok()?
    .dyn_into()
    .ok()?;
    let (w, h) = (f64::from(bitmap.width()), f64::from(bitmap.height()));
    if w < 1.0 || h < 1.0 {
        return None;
    }
    for (side, quality) in [(PREVIEW_SIDE, 0.6), (PREVIEW_SIDE * 0.75, 0.4), (32.0, 0.3)] {
        let scale = (side / w.max(h)).min(1.0);
        let (tw, th) = ((w * scale).round().max(1.0), (h * scale).round().max(1.0));
        let canvas = OffscreenCanvas::new(tw as u32, th as u32).ok()?;
        let ctx: OffscreenCanvasRenderingContext2d =
            canvas.get_context("2d").ok()??.dyn_into().ok()?;
        ctx.draw_image_with_image_bitmap_and_dw_and_dh(&bitmap, 0.0, 0.0, tw, th)
            .ok()?;
        let options = web_sys::ImageEncodeOptions::new();
        options.set_type("image/jpeg");
        options.set_quality(quality);
        let blob: Blob = JsFuture::from(canvas.convert_to_blob_with_options(&options).ok()?)
            .await
            .ok()?
            .dyn_into()
            .ok()?;
        let bytes = blob_bytes(&blob).await.ok()?;
        if bytes.len() <= sotto_proto::envelope::MAX_THUMBNAIL_BYTES {
            bitmap.close();
            return Some(bytes);
        }
    }
    bitmap.close();
    None
}
