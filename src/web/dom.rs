//! DOM built node by node from sanitized trees (narratives, HTML attachments): the browser
//! never parses markup from a server into the live page.

use wasm_bindgen::JsCast;

use super::describe;

/// A sanitized narrative as DOM nodes, built one by one (`createElement`, `setAttribute`,
/// `createTextNode`): the browser never parses markup from a server. Images that need the
/// token ([`crate::fhir::narrative::Node::FhirImage`]) become a placeholder with their alt text;
/// they are returned with their URLs for the caller to fetch ([`show_image`]).
pub fn narrative_dom(
    nodes: &[crate::fhir::narrative::Node],
) -> Result<(web_sys::DocumentFragment, Vec<(web_sys::Element, String)>), String> {
    use crate::fhir::narrative::Node;
    fn build(
        doc: &web_sys::Document,
        parent: &web_sys::Node,
        nodes: &[Node],
        images: &mut Vec<(web_sys::Element, String)>,
    ) -> Result<(), wasm_bindgen::JsValue> {
        for n in nodes {
            let child: web_sys::Node = match n {
                Node::Text(t) => doc.create_text_node(t).into(),
                Node::Element {
                    tag,
                    attrs,
                    children,
                } => {
                    let el = doc.create_element(tag)?;
                    for (k, v) in attrs {
                        match (*k, el.dyn_ref::<web_sys::HtmlElement>()) {
                            ("style", Some(html)) => {
                                let css = html.style();
                                for (prop, value) in crate::fhir::narrative::style_declarations(v) {
                                    css.set_property(prop, value)?;
                                }
                            }
                            _ => el.set_attribute(k, v)?,
                        }
                    }
                    build(doc, &el, children, images)?;
                    el.into()
                }
                Node::FhirImage { url, alt } => {
                    let el = doc.create_element("span")?;
                    el.set_attribute("class", "narrative-image")?;
                    el.set_attribute("data-alt", alt)?;
                    el.set_text_content(Some(&format!("[image: {alt}]")));
                    images.push((el.clone(), url.clone()));
                    el.into()
                }
            };
            parent.append_child(&child)?;
        }
        Ok(())
    }
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let fragment = doc.create_document_fragment();
    let mut images = Vec::new();
    build(&doc, &fragment, nodes, &mut images).map_err(|e| describe(&e))?;
    Ok((fragment, images))
}

/// A node of a browser-parsed document, as the narrative allowlist reads trees.
pub(crate) struct Dom(pub(crate) web_sys::Node);

impl Dom {
    /// The node as an element, by its node type: a document parsed in the parser frame
    /// (`web::html`) belongs to that frame's realm, whose nodes are not `instanceof` this page's
    /// `Element`, so a checked cast (`dyn_ref`) would see no element at all.
    fn element(&self) -> Option<&web_sys::Element> {
        (self.0.node_type() == web_sys::Node::ELEMENT_NODE).then(|| self.0.unchecked_ref())
    }
}

impl crate::fhir::narrative::Markup for Dom {
    fn kind(&self) -> crate::fhir::narrative::MarkupKind {
        use crate::fhir::narrative::MarkupKind;
        match self.0.node_type() {
            web_sys::Node::TEXT_NODE | web_sys::Node::CDATA_SECTION_NODE => MarkupKind::Text,
            web_sys::Node::ELEMENT_NODE => MarkupKind::Element,
            _ => MarkupKind::Other,
        }
    }

    fn text(&self) -> Option<String> {
        self.0.node_value()
    }

    fn name(&self) -> (String, Option<String>) {
        match self.element() {
            Some(e) => (e.local_name(), e.namespace_uri()),
            None => (String::new(), None),
        }
    }

    fn attributes(&self) -> Vec<(String, Option<String>, String)> {
        let Some(attrs) = self.element().map(|e| e.attributes()) else {
            return Vec::new();
        };
        (0..attrs.length())
            .filter_map(|i| attrs.item(i))
            .map(|a| (a.local_name(), a.namespace_uri(), a.value()))
            .collect()
    }

    fn children(&self) -> Vec<Self> {
        let list = self.0.child_nodes();
        (0..list.length())
            .filter_map(|i| list.item(i))
            .map(Dom)
            .collect()
    }
}

/// Replaces a narrative's image placeholder with the image, from a Blob URL.
pub fn show_image(placeholder: &web_sys::Element, src: &str) {
    let Some(doc) = placeholder.owner_document() else {
        return;
    };
    if let Ok(img) = doc.create_element("img") {
        let alt = placeholder.get_attribute("data-alt").unwrap_or_default();
        let _ = img.set_attribute("alt", &alt);
        let _ = img.set_attribute("src", src);
        let _ = placeholder.replace_with_with_node_1(&img);
    }
}
