/* expiry_wheel.c - the timing wheel of expiry_wheel.h. */
#include "expiry_wheel.h"

static size_t slot_of(time_t t) { return (size_t)((unsigned long long)t % EXPIRY_WHEEL_SLOTS); }

void wheel_init(expiry_wheel *w, time_t now)
{
    for (size_t i = 0; i < EXPIRY_WHEEL_SLOTS; i++)
        w->slots[i] = NULL;
    w->swept = now;
}

void wheel_insert(expiry_wheel *w, wheel_node *n, time_t due)
{
    /* A deadline already past goes in the next slot to be swept. */
    if (due <= w->swept)
        due = w->swept + 1;
    n->due = due;
    wheel_node **head = &w->slots[slot_of(due)];
    n->prev = NULL;
    n->next = *head;
    if (*head)
        (*head)->prev = n;
    *head = n;
}

void wheel_remove(expiry_wheel *w, wheel_node *n)
{
    wheel_node **head = &w->slots[slot_of(n->due)];
    if (!n->prev && *head != n)
        return; /* not in the wheel (handed over by wheel_advance) */
    if (n->prev)
        n->prev->next = n->next;
    else
        *head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

size_t wheel_advance(expiry_wheel *w, time_t now, void (*fn)(wheel_node *n, void *ctx), void *ctx)
{
    if (now <= w->swept)
        return 0;
    time_t from = w->swept + 1;
    if (now - from >= EXPIRY_WHEEL_SLOTS)
        from = now - EXPIRY_WHEEL_SLOTS + 1; /* one turn sees every slot */
    w->swept = now;                          /* before fn: what it puts back lands after now */
    size_t n = 0;
    for (time_t t = from; t <= now; t++) {
        wheel_node **head = &w->slots[slot_of(t)];
        wheel_node *list = *head;
        *head = NULL;
        while (list) {
            wheel_node *node = list;
            list = node->next;
            node->prev = node->next = NULL;
            if (node->due > now) {
                /* A later turn of the wheel: back in its slot. */
                node->next = *head;
                if (*head)
                    (*head)->prev = node;
                *head = node;
                continue;
            }
            n++;
            fn(node, ctx);
        }
    }
    return n;
}
