//! The fixed product catalog behind `/products` and the cart.

use axum::body::Bytes;
use serde::Serialize;

/// One product. Ids run from 1 to [`PRODUCTS`]`.len()`.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Product {
    pub(crate) id: u32,
    pub(crate) name: &'static str,
    pub(crate) price_cents: u64,
}

const fn product(id: u32, name: &'static str, price_cents: u64) -> Product {
    Product {
        id,
        name,
        price_cents,
    }
}

/// Twenty products: enough for scripts to pick at random, few enough to list in one response.
const PRODUCTS: [Product; 20] = [
    product(1, "Espresso beans, 1 kg", 2_450),
    product(2, "Ceramic pour-over dripper", 2_900),
    product(3, "Paper filters (100)", 650),
    product(4, "Burr grinder", 14_900),
    product(5, "Gooseneck kettle", 6_500),
    product(6, "Digital scale", 3_200),
    product(7, "Milk frothing jug", 1_800),
    product(8, "Double-walled glass", 1_250),
    product(9, "Travel mug", 2_200),
    product(10, "Cold brew bottle", 2_700),
    product(11, "Tamper", 3_500),
    product(12, "Knock box", 2_400),
    product(13, "Descaling tablets", 990),
    product(14, "Decaf beans, 500 g", 1_590),
    product(15, "Single-origin sampler", 3_890),
    product(16, "Aeropress", 3_999),
    product(17, "Moka pot", 4_450),
    product(18, "French press", 3_150),
    product(19, "Cleaning brush", 490),
    product(20, "Barista apron", 2_990),
];

/// The catalog, with the `/products` body serialized once.
pub(crate) struct Catalog {
    list_json: Bytes,
}

impl Catalog {
    pub(crate) fn new() -> Self {
        let list_json = serde_json::to_vec(&PRODUCTS).expect("the catalog serializes");
        Self {
            list_json: Bytes::from(list_json),
        }
    }

    /// The body of `GET /products`.
    pub(crate) fn list_json(&self) -> Bytes {
        self.list_json.clone()
    }

    pub(crate) fn get(&self, id: u32) -> Option<&'static Product> {
        let index = usize::try_from(id).ok()?.checked_sub(1)?;
        PRODUCTS.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_positions() {
        let catalog = Catalog::new();
        for (index, product) in PRODUCTS.iter().enumerate() {
            assert_eq!(product.id as usize, index + 1);
            assert_eq!(catalog.get(product.id).unwrap().name, product.name);
        }
        assert!(catalog.get(0).is_none());
        assert!(catalog.get(21).is_none());
        assert!(catalog.get(u32::MAX).is_none());
    }
}
