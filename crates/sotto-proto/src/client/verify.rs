//! Verifying a contact: the conversation's security code ([`crate::verify`]) and the
//! `verified` mark the person sets after comparing it with the contact's.

use super::error::ClientError;
use super::event::Event;
use super::{Client, ContactId};
use crate::verify::SecurityCode;

impl Client {
    /// The security code of the conversation with `contact`: both sides see the same code
    /// exactly when nobody sat between them when the invitation was passed on.
    ///
    /// Errors: [`ClientError::UnknownContact`].
    pub fn security_code(&self, contact: ContactId) -> Result<SecurityCode, ClientError> {
        let c = self
            .contacts
            .get(&contact)
            .ok_or(ClientError::UnknownContact)?;
        Ok(SecurityCode::from_associated_data(
            c.session.associated_data(),
        ))
    }

    /// Compares the contact's code as the person scanned, typed or pasted it (see
    /// [`SecurityCode::matches`]) with ours. Equal: the contact is marked verified (and stays
    /// so across restarts), an [`Event::VerificationChanged`] follows, and `Ok(true)`. Different: nothing changes, `Ok(false)`.
    ///
    /// Errors: [`ClientError::UnknownContact`].
    pub fn verify_contact(
        &mut self,
        contact: ContactId,
        theirs: &str,
    ) -> Result<bool, ClientError> {
        let code = self.security_code(contact)?;
        if !code.matches(theirs) {
            return Ok(false);
        }
        if let Some(c) = self.contacts.get_mut(&contact) {
            c.verified = Some(code.fingerprint());
        }
        self.events.push_back(Event::VerificationChanged {
            contact,
            verified: true,
        });
        Ok(true)
    }

    /// Takes the verified mark off `contact` (an [`Event::VerificationChanged`] follows).
    ///
    /// Errors: [`ClientError::UnknownContact`].
    pub fn unverify_contact(&mut self, contact: ContactId) -> Result<(), ClientError> {
        let c = self
            .contacts
            .get_mut(&contact)
            .ok_or(ClientError::UnknownContact)?;
        c.verified = None;
        self.events.push_back(Event::VerificationChanged {
            contact,
            verified: false,
        });
        Ok(())
    }

    /// Whether the person verified `contact`'s security code (and it has not changed since).
    /// `false` for an unknown contact.
    pub fn is_verified(&self, contact: ContactId) -> bool {
        self.security_code(contact).is_ok_and(|code| {
            self.contacts
                .get(&contact)
                .and_then(|c| c.verified)
                .is_some_and(|f| f == code.fingerprint())
        })
    }

    /// Takes the mark off every verified contact whose code is no longer the one compared,
    /// with an [`Event::SecurityCodeChanged`] for each. Run when a state is loaded (and
    /// whenever a contact's session could have been replaced).
    pub(super) fn check_security_codes(&mut self) {
        let changed: Vec<ContactId> = self
            .contacts
            .iter()
            .filter(|(_, c)| c.verified.is_some())
            .map(|(id, _)| *id)
            .filter(|id| !self.is_verified(*id))
            .collect();
        for contact in changed {
            if let Some(c) = self.contacts.get_mut(&contact) {
                c.verified = None;
            }
            self.events
                .push_back(Event::SecurityCodeChanged { contact });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::client::ClientError;
    use crate::client::tests::client;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn unknown_contacts_have_no_code_and_cannot_be_verified() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let mut c = client(&mut rng);
        assert_eq!(c.security_code(7).err(), Some(ClientError::UnknownContact));
        assert_eq!(
            c.verify_contact(7, "x").err(),
            Some(ClientError::UnknownContact)
        );
        assert_eq!(
            c.unverify_contact(7).err(),
            Some(ClientError::UnknownContact)
        );
        assert!(!c.is_verified(7));
    }
}
