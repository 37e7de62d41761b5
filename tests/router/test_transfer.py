"""Whether a conversation may move to another agent or back to the queue, and why not."""

from uuid import UUID

from router.transfer import AgentSlots, HeldConversation, refuse_transfer

ANA, BO, CY = UUID(int=1), UUID(int=2), UUID(int=3)
HELD_BY_ANA = HeldConversation("assigned", ANA)


def slots(agent_id: UUID = BO, *, status: str = "online", pending: int = 1, max_pending: int = 5) -> AgentSlots:
    return AgentSlots(agent_id, status, pending, max_pending)


def kind(refusal):
    return None if refusal is None else refusal.kind


def detail(refusal):
    return "" if refusal is None else refusal.detail


def test_the_assignee_may_hand_on_to_an_online_agent_with_room_and_so_may_an_admin():
    assert refuse_transfer(HELD_BY_ANA, ANA, BO, slots()) is None
    assert refuse_transfer(HELD_BY_ANA, None, BO, slots()) is None


def test_the_assignee_or_an_admin_may_send_it_back_to_the_queue():
    assert refuse_transfer(HELD_BY_ANA, ANA, None, None) is None
    assert refuse_transfer(HELD_BY_ANA, None, None, None) is None


def test_another_agent_may_not_move_someone_elses_conversation():
    assert kind(refuse_transfer(HELD_BY_ANA, CY, BO, slots())) == "not_yours"
    assert kind(refuse_transfer(HELD_BY_ANA, CY, None, None)) == "not_yours"
    assert kind(refuse_transfer(HeldConversation("queued", None), CY, BO, slots())) == "not_yours"


def test_only_an_assigned_conversation_moves():
    for conversation in (HeldConversation("queued", None), HeldConversation("resolved", ANA)):
        refusal = refuse_transfer(conversation, None, BO, slots())
        assert kind(refusal) == "not_assigned"
        assert conversation.status in detail(refusal)
    assert kind(refuse_transfer(HeldConversation("resolved", ANA), ANA, None, None)) == "not_assigned"


def test_the_receiving_agent_must_exist_be_someone_else_be_online_and_have_room():
    assert kind(refuse_transfer(HELD_BY_ANA, ANA, CY, None)) == "unknown_agent"
    assert kind(refuse_transfer(HELD_BY_ANA, ANA, ANA, slots(ANA))) == "same_agent"
    for status in ("away", "offline"):
        refusal = refuse_transfer(HELD_BY_ANA, ANA, BO, slots(status=status))
        assert kind(refusal) == "not_online"
        assert status in detail(refusal)


def test_an_agent_at_their_cap_is_refused_with_the_numbers():
    refusal = refuse_transfer(HELD_BY_ANA, ANA, BO, slots(pending=3, max_pending=3))
    assert kind(refusal) == "at_cap"
    assert "3 of 3" in detail(refusal)
    assert refuse_transfer(HELD_BY_ANA, ANA, BO, slots(pending=2, max_pending=3)) is None
    assert kind(refuse_transfer(HELD_BY_ANA, ANA, BO, slots(pending=0, max_pending=0))) == "at_cap"
