/**
 * niivue's 2-D slice fragment shader reduced to what the viewer draws: one background volume and the
 * drawing layer (the mask). niivue's own shader also samples an overlay volume (with outline search), the
 * PAQD atlas texture and the drawing's rim, and blends the overlay colour; with no overlay loaded, no PAQD
 * image and no rim (drawRimOpacity < 0, niivue's default) those terms leave the colour unchanged, so this
 * shader draws the same pixels (checked: identical canvas readbacks in the slice and multiplanar views,
 * with and without a mask) at about half the per-frame cost under software GL, where every redraw
 * competes with the model's WASM threads (see README "Viewer"). Set with Niivue.setCustomSliceShader; the
 * vertex shader and uniforms are niivue's (vertSliceMMShader, set at each draw).
 */
export const LEAN_SLICE_SHADER = `#version 300 es
precision highp int;
precision highp float;
uniform highp sampler3D volume;
uniform highp sampler3D drawing;
uniform highp sampler2D colormap;
uniform float opacity;
uniform float drawOpacity;
uniform bool isAlphaClipDark;
in vec3 texPos;
out vec4 color;
// niivue's drawColor: the drawing label's colour from the last row of the colormap texture.
vec4 drawColor(float scalar, float drawOpacity) {
	float nlayer = float(textureSize(colormap, 0).y);
	float layer = (nlayer - 0.5) / nlayer;
	vec4 dcolor = texture(colormap, vec2((scalar * 255.0) / 256.0 + 0.5 / 256.0, layer)).rgba;
	dcolor.a *= drawOpacity;
	return dcolor;
}
void main() {
	vec4 background = texture(volume, texPos);
	color = vec4(background.rgb, opacity);
	if (isAlphaClipDark && background.a == 0.0) color.a = 0.0;
	vec4 dcolor = drawColor(texture(drawing, texPos).r, drawOpacity);
	if (dcolor.a > 0.0) {
		color.rgb = mix(color.rgb, dcolor.rgb, dcolor.a);
		color.a = max(drawOpacity, color.a);
	}
}`;
