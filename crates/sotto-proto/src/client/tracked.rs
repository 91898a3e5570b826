//! The client's contacts and receive queues behind accessors that record which contacts'
//! parts ([`super::Client::to_parts`]) they may change, so that
//! [`super::Client::to_changed_parts`] encodes only those. The maps are private to this
//! module: the rest of the client reaches a contact or a queue mutably only through a method
//! here, and every such method marks the contact whose part it can touch. A mark may be for
//! nothing (the part's bytes stay the same: a driver compares digests before it writes); a
//! change is never left unmarked. The only unmarked mutable access is to a queue's
//! [`Subscription`], which no part holds.

use std::collections::hash_map;
use std::collections::{HashMap, HashSet};
use std::ops::{Deref, DerefMut};

use litemap::LiteMap;

use super::ContactId;
use super::contact::Contact;
use super::receive::{QueueOwner, RecvQueue, Subscription};
use crate::ids::QueueId;

/// Contact ids marked changed (a set: each at most once, whatever the number of changes).
#[derive(Default)]
pub(super) struct Marks(HashSet<ContactId>);

impl Marks {
    fn mark(&mut self, id: ContactId) {
        self.0.insert(id);
    }

    /// The ids marked; none are marked after.
    fn take(&mut self) -> HashSet<ContactId> {
        std::mem::take(&mut self.0)
    }
}

/// The contacts, by id (increasing: a `Vec` sorted by id, looked up by binary search), and the ids of those changed since the marks were last
/// taken ([`Contacts::take_marks`]), the removed ones included.
#[derive(Default)]
pub(super) struct Contacts {
    map: LiteMap<ContactId, Contact>,
    marked: Marks,
}

impl Contacts {
    /// `map` with every contact marked (nothing is known of their parts).
    pub(super) fn all_marked(map: LiteMap<ContactId, Contact>) -> Contacts {
        let marked = Marks(map.keys().copied().collect());
        Contacts { map, marked }
    }

    /// `map` with no contact marked: the caller knows every part as it is now.
    pub(super) fn unmarked(map: LiteMap<ContactId, Contact>) -> Contacts {
        Contacts {
            map,
            marked: Marks::default(),
        }
    }

    pub(super) fn get(&self, id: &ContactId) -> Option<&Contact> {
        self.map.get(id)
    }

    /// The contact, marked changed.
    pub(super) fn get_mut(&mut self, id: &ContactId) -> Option<&mut Contact> {
        let c = self.map.get_mut(id)?;
        self.marked.mark(*id);
        Some(c)
    }

    pub(super) fn contains_key(&self, id: &ContactId) -> bool {
        self.map.contains_key(id)
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// The ids, increasing.
    pub(super) fn keys(&self) -> impl DoubleEndedIterator<Item = &ContactId> {
        self.map.keys()
    }

    /// The contacts, by increasing id.
    pub(super) fn values(&self) -> impl DoubleEndedIterator<Item = &Contact> {
        self.map.values()
    }

    /// The contacts, by increasing id.
    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = (&ContactId, &Contact)> {
        self.map.iter()
    }

    /// Every contact, by increasing id, each marked changed.
    pub(super) fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&ContactId, &mut Contact)> {
        for id in self.map.keys() {
            self.marked.mark(*id);
        }
        self.map.iter_mut()
    }

    /// Adds (or replaces) a contact, marked changed.
    pub(super) fn insert(&mut self, id: ContactId, contact: Contact) -> Option<Contact> {
        self.marked.mark(id);
        self.map.insert(id, contact)
    }

    /// Removes a contact, marked changed (its part is gone).
    pub(super) fn remove(&mut self, id: &ContactId) -> Option<Contact> {
        self.marked.mark(*id);
        self.map.remove(id)
    }

    /// The contacts marked since the last call (gone ones included); none are marked after.
    pub(super) fn take_marks(&mut self) -> HashSet<ContactId> {
        self.marked.take()
    }
}

/// Our receive queues, by id, and the contacts whose queues changed since the marks were last
/// taken ([`Queues::take_marks`]): a contact's queues are in its part.
#[derive(Default)]
pub(super) struct Queues {
    map: HashMap<QueueId, RecvQueue>,
    marked: Marks,
}

/// A receive queue borrowed mutably ([`Queues::get_mut`]): its owner before is marked at once,
/// its owner after (a queue changes hands when an invitation is taken up) when this is dropped.
pub(super) struct QueueMut<'a> {
    queue: &'a mut RecvQueue,
    marked: &'a mut Marks,
}

impl Deref for QueueMut<'_> {
    type Target = RecvQueue;

    fn deref(&self) -> &RecvQueue {
        self.queue
    }
}

impl DerefMut for QueueMut<'_> {
    fn deref_mut(&mut self) -> &mut RecvQueue {
        self.queue
    }
}

impl Drop for QueueMut<'_> {
    fn drop(&mut self) {
        mark_owner(self.marked, &self.queue.owner);
    }
}

fn mark_owner(marked: &mut Marks, owner: &QueueOwner) {
    if let QueueOwner::Contact(c) = owner {
        marked.mark(*c);
    }
}

impl Queues {
    /// `map` with no contact marked (the caller marks the contacts, [`Contacts::all_marked`],
    /// or knows their parts).
    pub(super) fn new(map: HashMap<QueueId, RecvQueue>) -> Queues {
        Queues {
            map,
            marked: Marks::default(),
        }
    }

    pub(super) fn get(&self, id: &QueueId) -> Option<&RecvQueue> {
        self.map.get(id)
    }

    /// The queue, its owner marked changed (before and after).
    pub(super) fn get_mut(&mut self, id: &QueueId) -> Option<QueueMut<'_>> {
        let queue = self.map.get_mut(id)?;
        mark_owner(&mut self.marked, &queue.owner);
        Some(QueueMut {
            queue,
            marked: &mut self.marked,
        })
    }

    /// The queue's subscription (its timer and reply blocks), which no part holds: not marked.
    pub(super) fn subscription_mut(&mut self, id: &QueueId) -> Option<&mut Subscription> {
        self.map.get_mut(id).map(|q| &mut q.subscription)
    }

    /// Every queue's subscription (not marked, as [`Queues::subscription_mut`]).
    pub(super) fn subscriptions_mut(&mut self) -> impl Iterator<Item = &mut Subscription> {
        self.map.values_mut().map(|q| &mut q.subscription)
    }

    /// Every queue, each owner marked changed.
    pub(super) fn for_each_mut(&mut self, mut f: impl FnMut(&QueueId, &mut RecvQueue)) {
        for (id, q) in &mut self.map {
            mark_owner(&mut self.marked, &q.owner);
            f(id, q);
            mark_owner(&mut self.marked, &q.owner);
        }
    }

    pub(super) fn contains_key(&self, id: &QueueId) -> bool {
        self.map.contains_key(id)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(super) fn keys(&self) -> hash_map::Keys<'_, QueueId, RecvQueue> {
        self.map.keys()
    }

    pub(super) fn values(&self) -> hash_map::Values<'_, QueueId, RecvQueue> {
        self.map.values()
    }

    pub(super) fn iter(&self) -> hash_map::Iter<'_, QueueId, RecvQueue> {
        self.map.iter()
    }

    /// Adds (or replaces) a queue, its owner (and a replaced one's) marked changed.
    pub(super) fn insert(&mut self, id: QueueId, queue: RecvQueue) -> Option<RecvQueue> {
        mark_owner(&mut self.marked, &queue.owner);
        let old = self.map.insert(id, queue);
        if let Some(old) = &old {
            mark_owner(&mut self.marked, &old.owner);
        }
        old
    }

    /// Removes a queue, its owner marked changed.
    pub(super) fn remove(&mut self, id: &QueueId) -> Option<RecvQueue> {
        let old = self.map.remove(id)?;
        mark_owner(&mut self.marked, &old.owner);
        Some(old)
    }

    /// The contacts whose queues were marked since the last call; none are marked after.
    pub(super) fn take_marks(&mut self) -> HashSet<ContactId> {
        self.marked.take()
    }
}

#[cfg(test)]
impl std::ops::Index<&QueueId> for Queues {
    type Output = RecvQueue;

    fn index(&self, id: &QueueId) -> &RecvQueue {
        &self.map[id]
    }
}

#[cfg(test)]
impl std::ops::Index<&ContactId> for Contacts {
    type Output = Contact;

    fn index(&self, id: &ContactId) -> &Contact {
        &self.map[id]
    }
}
