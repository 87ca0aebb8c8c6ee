"""The fused step kernel: one launch advances every env by one policy step, observes and rewards it.

``step_kernel(F, world, observation)`` assembles, for a float type, a world (its ``spawn`` and
``reward`` Warp functions, ``envs/worlds``) and an observation (``envs/physics/observe.py``), one
kernel with a thread per env::

    RESPAWN (reset or autoreset) -> the world places a new episode
    REFRESH (a loaded scene)     -> lanes and member lists recomputed
    STEP                         -> meta-action (or continuous commands), then per sub-step:
                                    act -> (right of way, on a regulated road) -> move -> collide
                                    (-> trace)
    then, per agent (controlled vehicles in slots 0 .. agents - 1): observation -> reward terms ->
    done; then the world's after_step (vehicles that leave or arrive, if it has one) -> the env's
    reward (the first agent's, or the mean in a cooperative world), terminated / truncated -> the next
    mode

A world's ``reward(v, ep, rd, p, e, i, o, action, command, out)`` scores controlled vehicle i into
output row o (``out.rewards``, ``out.dones``, ``out.terms``; ``out.truncated[e]``) and returns whether
that vehicle's state ends the episode under highway-env's rule (e.g. the first vehicle's crash).

The physics it calls never looks at which world it runs: worlds differ only in their road tables,
their spawn and reward functions and their parameters. Kernels are built once per combination and
cached by Warp on disk.
"""

import functools

import warp as wp

from envs.physics import structs as st
from envs.physics.observe import observe_funcs
from envs.physics.regulation import regulation_funcs
from envs.physics.traffic import traffic_funcs
from envs.road import network as rn


@functools.cache
def _no_after_step(F: type):  # noqa: N803
    S = st.make_structs(F)

    @wp.func
    def no_after_step(v: S.Vehicles, ep: S.Episodes, rd: S.Road, p: S.Params, e: int):
        """A world whose vehicles neither arrive nor leave during an episode."""
        pass

    return no_after_step


@functools.cache
def step_kernel(F: type, world_funcs, observation: str):  # noqa: N803
    S = st.make_structs(F)
    T = traffic_funcs(F)
    W = world_funcs(F)
    observe = getattr(observe_funcs(F), observation)
    Vehicles, Episodes, Road, Params, Outputs = S.Vehicles, S.Episodes, S.Road, S.Params, S.Outputs
    spawn, reward = W.spawn, W.reward
    after_step = getattr(W, "after_step", None) or _no_after_step(F)
    substep = regulation_funcs(F).substep
    refresh_all, meta_action = T.refresh_all, T.meta_action
    continuous_action = T.continuous_action
    STEP, RESPAWN, REFRESH = st.STEP, st.RESPAWN, st.REFRESH
    ERR_ACTION, ROAD_LANES, END_ALL_AGENTS = st.ERR_ACTION, rn.ROAD_LANES, st.END_ALL_AGENTS

    @wp.func(inline=True)
    def simulate(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int, out: Outputs):
        """One policy step of physics: ``frames`` sub-steps of act -> (regulate) -> move -> collide (->
        trace)."""
        for frame in range(p.frames):
            substep(v, ep, rd, p, e)
            if p.trace != 0:
                n = v.x.shape[1]
                for i in range(n):
                    k = frame * n + i
                    out.trace[e, k, 0] = wp.float32(v.x[e, i])
                    out.trace[e, k, 1] = wp.float32(v.y[e, i])
                    out.trace[e, k, 2] = wp.float32(v.heading[e, i])
                    out.trace[e, k, 3] = wp.float32(0.0)
                    if v.crashed[e, i]:
                        out.trace[e, k, 3] = wp.float32(1.0)
        ep.time[e] = ep.time[e] + p.policy_dt

    @wp.kernel(
        module="unique", enable_backward=False, module_options={"max_unroll": 1, "optimization_level": 3}
    )
    def step(
        v: Vehicles, ep: Episodes, rd: Road, p: Params, action: wp.array(dtype=wp.int32),
        commands: wp.array2d(dtype=wp.float32), out: Outputs,
    ):  # fmt: skip
        e = wp.tid()
        mode = ep.mode[e]
        if mode == STEP and p.live == 0:
            return  # a partial reset: this env keeps its episode and its last outputs
        agents = p.agents
        fresh = bool(False)
        stepped = bool(False)
        valid = bool(True)  # every agent's meta-action is in range
        if mode == RESPAWN:
            ep.road_steps[e] = 0
            spawn(v, ep, rd, p, e)
            ep.episode[e] = ep.episode[e] + 1
            ep.time[e] = wp.float64(0.0)
            if p.continuous != 0:  # a plain Vehicle has no cruise set-point (highway-env reads 0)
                for k in range(agents):
                    v.target_speed[e, k] = F(0.0)
            refresh_all(v, rd, ep, e)
            fresh = bool(True)
        elif mode == REFRESH:
            refresh_all(v, rd, ep, e)
            fresh = bool(True)
        elif p.live != 0:
            if p.continuous != 0:
                for k in range(agents):
                    o = e * agents + k
                    continuous_action(v, p, e, k, commands[o, 0], commands[o, 1])
                simulate(v, ep, rd, p, e, out)
                stepped = True
                for k in range(agents):  # a plain Vehicle's rewards read the lane it is on
                    v.target_lane[e, k] = v.lane[e, k]
            else:
                for k in range(agents):
                    ak = action[e * agents + k]
                    if ak < 0 or ak >= p.actions.shape[0]:
                        valid = False
                if not valid:
                    ep.error[e] = ep.error[e] | ERR_ACTION
                else:  # every agent acts, then the road moves (highway-env MultiAgentAction.act)
                    for k in range(agents):
                        meta_action(v, rd, p, ep, e, k, p.actions[action[e * agents + k]])
                    simulate(v, ep, rd, p, e, out)
                    stepped = True
        if fresh:
            ep.obs_lanes[e] = rd.li[v.lane[e, 0], ROAD_LANES]
            ep.mode[e] = STEP
        total = wp.float32(0.0)
        all_done = bool(True)
        ends = bool(False)
        for k in range(agents):
            o = e * agents + k
            observe(v, ep, rd, p, e, out, k, o)
            # the action as highway-env's rewards see it: the raw commands, or the meta-action's index
            a = int(-1)  # none: a reset, or continuous commands
            command = wp.vec2f(commands[o, 0], commands[o, 1])
            if p.continuous == 0:
                if stepped:
                    a = int(action[o])
                command = wp.vec2f(wp.float32(wp.max(a, 0)), wp.float32(0.0))
            if reward(v, ep, rd, p, e, k, o, a, command, out):
                ends = True
            total = total + out.rewards[o]
            all_done = all_done and out.dones[o]
            out.speed[o] = wp.float32(v.speed[e, k])
            out.crashed[o] = v.crashed[e, k]
            if fresh:
                out.rewards[o] = wp.float32(0.0)
                out.dones[o] = False
        if stepped:  # after the observation and reward, as highway-env's env.step() (vehicles come and go)
            after_step(v, ep, rd, p, e)
        if p.shared_reward != 0:
            out.reward[e] = total / wp.float32(agents)
        else:
            out.reward[e] = out.rewards[e * agents]
        if p.episode_end == END_ALL_AGENTS:
            out.terminated[e] = all_done
        else:
            out.terminated[e] = ends or all_done
        if fresh:
            out.reward[e] = wp.float32(0.0)
            out.terminated[e] = False
            out.truncated[e] = False
        elif p.autoreset != 0 and p.live != 0 and (out.terminated[e] or out.truncated[e]):
            ep.mode[e] = RESPAWN

    return step
